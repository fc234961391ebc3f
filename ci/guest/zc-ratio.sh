#!/bin/bash
# Zero copy vs copy on ONE zcfile LUN in one boot (zero_copy toggled between
# runs, zero_copy_min_size 4096, zero_copy_data_in 1): a quick ratio check.
# Host: ci/vm-run.sh -k KIMG [-c 1] -- ci/guest/zc-ratio.sh
# With -c 1 the unmap needs no cross-CPU TLB shootdown, which under a
# loaded TCG host costs milliseconds (see docs/performance.md).
# zc vs copy on one LUN, one boot; method: fio libaio O_DIRECT, time_based 5 s after 1 s ramp, seq.
. "$(dirname "$0")/../guest/stack.sh
stack_start
. "$(dirname "$0")/../tests/test_common.sh
d=$ZC_TMP
truncate -s 256M "$d/b"; dd if=/dev/zero of="$d/b" bs=1M count=256 status=none
zc_lun_create s1 256M user "$d/b" "hw_max_sectors=2048 control=zero_copy=1"
zc_attr_set s1 zero_copy_data_in 1
zc_attr_set s1 zero_copy_min_size 4096
echo "cpus=$(nproc)"
for rw in read write; do for bs in 64k 1M; do for qd in 1 16; do
  for zc in 0 1; do
    zc_attr_set s1 zero_copy $zc
    bw=$(zc_fio_bw --name=x --filename="$ZC_DISK" --rw=$rw --bs=$bs --iodepth=$qd --size=256M --time_based --runtime=5 --ramp_time=1)
    eval "r$zc=$bw"
  done
  echo "RESULT $rw $bs qd$qd copy=$r0 zc=$r1 ratio=$(echo "scale=2; $r1/$r0" | bc)"
done; done; done
cat $(zc_backstore_dir s1)/attrib/zero_copy_stats | tr '\n' ' '; echo
