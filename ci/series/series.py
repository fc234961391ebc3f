#!/usr/bin/python3
# The kernel series as a b4 prep branch.  patches/ and ../series are the
# exported, committed form; the branch b4/tcmu-zc of the kernel repository
# (checked out in build/worktree/series) is where the series is edited.
#
#   series.py import     recreate the branch from patches/ (cover letter in
#                        its empty first commit, change-id, revision), and
#                        sent/ tags of earlier revisions from the project's
#                        git history
#   series.py export     b4 prep -p of the branch -> patches/ and series (the
#                        run's date and random Message-Id made stable)
#   series.py check      TAP: b4, identities, round trip, b4 prep --check
#   series.py compare [vN]  range-diff against revision N (default: previous)
#   series.py reroll     mark the current revision as done: sent/ tag, N+1
#   series.py sign       put your name on the branch for sending: author of
#                        unattributed patches and Signed-off-by, from git
#                        config (SERIES_ALLOW_PLACEHOLDER=1: a test identity)
#
# Environment: BUILD (build/), SERIES_NAME (tcmu-zc: branch b4/$SERIES_NAME),
# SERIES_WT (build/worktree/series), FORCE=1 (import over a branch that
# differs from patches/).  The kernel repository and its base commit are
# the ones `make tree` prepared (build/worktree/base), so KERNEL_SRC works
# here as it does there.
#
# Identity: the committed form carries nobody's identity.  Patches written by
# the project are authored by UNSIGNED (a reserved .invalid address, see
# patches/README.md) and carry no Signed-off-by; identities with reserved
# domains (example, invalid, localhost, test) are never a person: export
# turns such authors into UNSIGNED and drops such trailers.  The sender's
# name and Signed-off-by come from git config when signing for sending.
import email
import email.policy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(TOP, 'ci', 'series')
B = os.environ.get('BUILD') or os.path.join(TOP, 'build')
NAME = os.environ.get('SERIES_NAME') or 'tcmu-zc'
BRANCH = 'b4/' + NAME
WT = os.environ.get('SERIES_WT') or os.path.join(B, 'worktree', 'series')
BASE_WT = os.path.join(B, 'worktree', 'base')
PATCHES = os.path.join(TOP, 'patches')
SERIES = os.path.join(TOP, 'series')
COVER_TEMPLATE = os.path.join(HERE, 'cover.template')
UNSIGNED = ('Unsigned tcmu-zc series', 'unsigned@invalid')
HARNESS_ID = ('tcmu-zc harness', 'tcmu-zc@localhost')
MAGIC = '--- b4-submit-tracking ---'
ZERO_FROM = b'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001'
B4_MIN = (0, 14)
# RFC 2606 / RFC 6761 names: no person has an address there.
RESERVED = re.compile(r'(^|\.)(example|invalid|localhost|test|example\.(com|net|org))$', re.I)
TRAILER_ADDR = re.compile(r'^([A-Za-z][A-Za-z0-9-]*):\s.*<([^<>@\s]+@([^<>\s]+))>\s*$')

PROG = 'series'


def say(*a):
    print(f'{PROG}:', *a, file=sys.stderr)


def die(*a):
    say('error:', *a)
    sys.exit(1)


# --- git -----------------------------------------------------------------

REPO = None   # the kernel repository's common git dir
BASE = None   # the base commit (make tree's build/worktree/base)
ME = None     # (name, email) of whoever runs this, from the project's git config


def identity():
    def cfg(k):
        r = subprocess.run(['git', '-C', TOP, 'config', k], capture_output=True, text=True)
        return r.stdout.strip()
    name, mail = cfg('user.name'), cfg('user.email')
    if not name or not mail:
        return HARNESS_ID
    return name, mail


def gitenv(extra=None):
    """Environment for git and b4: "me" is the project's configured identity
    (the kernel repository may carry its own harness identity in its local
    config; command-line config wins over it)."""
    env = dict(os.environ)
    items = [('user.name', ME[0]), ('user.email', ME[1])] + list(extra or [])
    env['GIT_CONFIG_COUNT'] = str(len(items))
    for i, (k, v) in enumerate(items):
        env[f'GIT_CONFIG_KEY_{i}'] = k
        env[f'GIT_CONFIG_VALUE_{i}'] = v
    # Debian's python3 and perl (checkpatch, spdxcheck), not a user's pyenv.
    env['PATH'] = '/usr/bin:' + env.get('PATH', '')
    for k in ('GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE'):
        env.pop(k, None)
    return env


def git(*args, cwd=None, env=None, input=None, check=True, raw=False):
    r = subprocess.run(['git'] + list(args), cwd=cwd or REPO, env=env or gitenv(),
                       input=input, capture_output=True)
    if check and r.returncode:
        die('git %s: %s' % (' '.join(args[:3]), r.stderr.decode(errors='replace').strip()))
    if raw:
        return r
    return r.stdout.decode(errors='replace').strip()


def setup():
    global REPO, BASE, ME
    ME = identity()
    if not os.path.exists(os.path.join(BASE_WT, '.git')):
        die(f'no kernel tree at {BASE_WT}: run `make tree` first')
    common = git('rev-parse', '--git-common-dir', cwd=BASE_WT)
    REPO = os.path.normpath(os.path.join(BASE_WT, common))
    BASE = git('rev-parse', 'HEAD', cwd=BASE_WT)


def is_placeholder(addr):
    dom = addr.rsplit('@', 1)[-1].strip().rstrip('>')
    return '@' not in addr or bool(RESERVED.search(dom))


def b4_version():
    try:
        out = subprocess.run(['b4', '--version'], capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        return None, ''
    m = re.match(r'(\d+)\.(\d+)', out)
    return (tuple(int(x) for x in m.groups()) if m else None), out


def need_b4(minimum=(0, 12)):
    v, s = b4_version()
    if not v:
        die('b4 is not installed: run `make series-deps` (ci/series/deps.sh)')
    if v < minimum:
        die(f'b4 {s} is too old (need {".".join(map(str, minimum))}): run `make series-deps`')
    return v


# --- messages ------------------------------------------------------------

def read_mail(path_or_bytes):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, 'rb').read()
    return data, email.message_from_bytes(data, policy=email.policy.default)


def body_text(msg):
    payload = msg.get_payload(decode=True)
    cs = msg.get_content_charset() or 'utf-8'
    return payload.decode(cs, errors='replace')


DIFFSTAT = re.compile(r'^\s*\d+ files? changed', re.M)
SHORTLOG_HDR = re.compile(r'^\S.* \(\d+\):$')


def parse_cover(path_or_bytes):
    """The cover letter of an exported series: subject, revision, prefixes,
    date, change-id, base-commit, prerequisites and the letter's own text
    (what b4 keeps in the cover commit), without the shortlog, diffstat and
    trailing lines the export generates."""
    import b4
    data, msg = read_mail(path_or_bytes)
    ls = b4.LoreSubject(str(msg['Subject']))
    body = body_text(msg)
    lines = body.split('\n')
    # b4 form: "<cover>\n\n---\n<shortlog>\n\n<diffstat>\n---\nbase-commit..."
    # git format-patch form (v1..v3): "<cover>\n\n<shortlog>\n\n<diffstat>..."
    m = DIFFSTAT.search(body)
    if not m:
        die('cover letter without a diffstat: not an exported series')
    dline = body.count('\n', 0, m.start())
    cut = None
    for i in range(dline - 1, -1, -1):
        if lines[i] == '---':
            cut = i
            break
    if cut is None:
        for i in range(dline):
            if SHORTLOG_HDR.match(lines[i]) and i + 1 < len(lines) and lines[i + 1].startswith('  '):
                cut = i
                break
    if cut is None:
        die('cannot find the shortlog in the cover letter')
    text = '\n'.join(lines[:cut]).rstrip()
    tail = '\n'.join(lines[dline:])
    tail = tail.split('\n-- \n')[0]
    info = {
        'subject': ls.subject,
        'revision': ls.revision,
        'prefixes': [p for p in ls.get_extra_prefixes() if p.upper() != 'PATCH'],
        'date': str(msg['Date']),
        'change_id': None, 'base_commit': None, 'prerequisites': [],
        'text': text,
    }
    for line in tail.split('\n'):
        if line.startswith('change-id:'):
            info['change_id'] = line.split(':', 1)[1].strip()
        elif line.startswith('base-commit:'):
            info['base_commit'] = line.split(':', 1)[1].strip()
        elif line.startswith('prerequisite-'):
            info['prerequisites'].append(line[len('prerequisite-'):].strip())
    if not info['change_id'] and msg['X-Change-ID']:
        info['change_id'] = str(msg['X-Change-ID']).strip()
    # b4 regenerates the patch-ids of change-id/message-id prerequisites.
    if any(not p.startswith('patch-id:') for p in info['prerequisites']):
        info['prerequisites'] = [p for p in info['prerequisites'] if not p.startswith('patch-id:')]
    return info


def default_change_id(info, base):
    """b4's change-id form, YYYYMMDD-slug-hex12; deterministic here so that
    two people importing a series that has none get the same one."""
    d = email.utils.parsedate_to_datetime(info['date'])
    h = hashlib.sha256(f"{base}\n{info['subject']}".encode()).hexdigest()[:12]
    return f"{d:%Y%m%d}-{NAME}-{h}"


def cover_commit_message(info, change_id):
    from b4.ez import make_magic_json
    tracking = {'series': {'revision': info['revision'], 'change-id': change_id,
                           'prefixes': info['prefixes']}}
    if info['prerequisites']:
        tracking['series']['prerequisites'] = info['prerequisites']
    # b4 keeps "#" lines as comments: escape them as b4's thread import does.
    text = re.sub(r'^(#.*)$', r'>\1', info['text'], flags=re.M)
    return f"{info['subject']}\n\n{text}\n\n{make_magic_json(tracking)}"


def series_files(series_path=None, text=None):
    if text is None:
        text = open(series_path or SERIES).read()
    out = []
    for line in text.split('\n'):
        line = line.strip()
        if line and not line.startswith('#'):
            out.append(line.split()[0])
    return out


def cover_file(d=PATCHES):
    c = sorted(f for f in os.listdir(d) if f.startswith('0000-') and f.endswith('.patch'))
    if len(c) != 1:
        die(f'{d}: expected one 0000-*.patch cover letter, found {len(c)}')
    return os.path.join(d, c[0])


# --- building commits without a work tree -------------------------------

def commit_tree(tree, parent, message, author, date, env=None):
    e = dict(env or gitenv())
    e['GIT_AUTHOR_NAME'], e['GIT_AUTHOR_EMAIL'] = author
    e['GIT_AUTHOR_DATE'] = date
    return git('commit-tree', tree, '-p', parent, input=message.encode(), env=e)


def mini_am(parent, files):
    """git am of format-patch files onto parent, in a private index: the same
    commits (tree, author, date, message) without checking out a kernel tree."""
    tmp = tempfile.mkdtemp(prefix='series-am.')
    env = gitenv()
    env['GIT_INDEX_FILE'] = os.path.join(tmp, 'index')
    try:
        git('read-tree', parent, env=env)
        tip = parent
        for f in files:
            split = os.path.join(tmp, 'split')
            shutil.rmtree(split, ignore_errors=True)
            os.mkdir(split)
            git('mailsplit', '--keep-cr', '-o' + split, f, env=env)
            parts = sorted(os.listdir(split))
            if len(parts) != 1:
                die(f'{f}: {len(parts)} messages, expected one')
            mfile, pfile = os.path.join(tmp, 'msg'), os.path.join(tmp, 'patch')
            with open(os.path.join(split, parts[0]), 'rb') as fh:
                r = subprocess.run(['git', 'mailinfo', mfile, pfile], stdin=fh,
                                   capture_output=True, env=env, cwd=REPO)
            if r.returncode:
                die(f'{f}: git mailinfo failed: {r.stderr.decode(errors="replace")}')
            hdr = dict(l.split(': ', 1) for l in r.stdout.decode().split('\n') if ': ' in l)
            if not hdr.get('Email'):
                die(f'{f}: no author address')
            r = git('apply', '--cached', pfile, env=env, check=False, raw=True)
            if r.returncode:
                die(f'patch does not apply: {f}\n{r.stderr.decode(errors="replace")}')
            tree = git('write-tree', env=env)
            body = open(mfile, encoding='utf-8', errors='replace').read()
            message = stripspace(hdr.get('Subject', '') + '\n\n' + body)
            notes = cut_notes(open(pfile, encoding='utf-8', errors='replace').read())
            if notes:
                message += '---\n' + notes
            # The committed form's identity rules hold on the branch too.
            author = (hdr.get('Author', ''), hdr['Email'])
            if is_placeholder(author[1]):
                author = UNSIGNED
            message = strip_placeholder_trailers(message)
            tip = commit_tree(tree, tip, message, author, hdr.get('Date', ''), env=env)
        return tip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cut_notes(patch):
    """Notes below the --- line of a patch (per-patch changes, remarks for
    reviewers): b4 keeps them in the commit message after a --- line; git
    am drops them.  mailinfo leaves them at the top of the patch part, before
    the "---" that opens the diffstat."""
    lines = patch.split('\n')
    first = next((i for i, l in enumerate(lines) if l.startswith('diff --git ')), len(lines))
    head = lines[:first]
    if head and head[0] == '---':
        head = head[1:]
    if not head or re.match(r'^ \S.*\|', head[0]) or DIFFSTAT.match(head[0]):
        return ''
    cut = max((i for i, l in enumerate(head) if l == '---'), default=None)
    if not cut:
        return ''
    notes = '\n'.join(l.rstrip() for l in head[:cut]).strip('\n')
    return notes + '\n' if notes else ''


def commits(rng):
    out = git('rev-list', '--reverse', '--no-merges', rng)
    return out.split() if out else []


def commit_info(c):
    raw = git('cat-file', 'commit', c, raw=True).stdout.decode('utf-8', errors='replace')
    head, _, message = raw.partition('\n\n')
    h = {}
    for line in head.split('\n'):
        k, _, v = line.partition(' ')
        h.setdefault(k, v)
    m = re.match(r'(.*) <(.*)> (\d+ [+-]\d{4})$', h['author'])
    return {'tree': h['tree'], 'author': (m.group(1), m.group(2)), 'date': m.group(3),
            'message': message}


def find_cover(ref):
    out = git('log', '--grep', MAGIC, '-F', '--format=%H', '--max-count=1', ref, check=False)
    if not out:
        die(f'{ref} is not a b4 prep branch (no cover-letter commit)')
    return out


def load_tracking(cover_commit):
    msg = commit_info(cover_commit)['message']
    cover, _, magic = msg.partition(MAGIC)
    return cover.strip(), json.loads('{' + magic.split('{', 1)[1])


def copy_series(cover, tip, rewrite, cover_message=None):
    """Copy cover..tip onto the cover's parent with commit-tree; rewrite(info)
    returns (author, message) for each patch commit."""
    ci = commit_info(cover)
    new = commit_tree(ci['tree'], git('rev-parse', cover + '^'), cover_message or ci['message'],
                      ci['author'], ci['date'])
    for c in commits(f'{cover}..{tip}'):
        i = commit_info(c)
        author, message = rewrite(i)
        new = commit_tree(i['tree'], new, message, author, i['date'])
    return new


def stripspace(text):
    """git stripspace: no trailing blanks, no leading/trailing/double empty lines."""
    out = []
    for line in text.split('\n'):
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return '\n'.join(out) + '\n' if out else ''


def canon_message(message):
    """A commit message as git am + cut_notes give it: the log message
    stripspace'd, then the notes below a --- line, if any."""
    lines = message.split('\n')
    if '---' in lines:
        i = lines.index('---')
        notes = '\n'.join(l.rstrip() for l in lines[i + 1:]).strip('\n')
        main = stripspace('\n'.join(lines[:i]))
        return main + ('---\n' + notes + '\n' if notes else '')
    return stripspace(message)


def strip_placeholder_trailers(message, note=None):
    out = []
    for line in message.split('\n'):
        m = TRAILER_ADDR.match(line)
        if m and is_placeholder(m.group(2)):
            if note is not None:
                note.append(line)
            continue
        out.append(line)
    return canon_message('\n'.join(out))


class TempWorktree:
    """A branch checked out without files: b4 reads commits, not files."""

    def __init__(self, tag):
        self.branch = f'b4-tmp/{NAME}-{tag}-{os.getpid()}'
        self.path = tempfile.mkdtemp(prefix=f'series-{tag}.')

    def __enter__(self):
        return self

    def start(self, tip):
        git('branch', '-f', self.branch, tip)
        git('config', f'branch.{self.branch}.b4-prep-cover-strategy', 'commit')
        os.rmdir(self.path)
        git('worktree', 'add', '-q', '--no-checkout', self.path, self.branch)
        # b4 wants a clean work tree: a sparse one (top-level files only),
        # as b4's own reroll makes, is clean and costs no kernel checkout.
        git('sparse-checkout', 'init', cwd=self.path)
        git('checkout', '-q', cwd=self.path)
        return self

    def __exit__(self, *a):
        if os.path.exists(self.path):
            git('worktree', 'remove', '--force', self.path, check=False)
            shutil.rmtree(self.path, ignore_errors=True)
        git('worktree', 'prune', check=False)
        git('branch', '-D', self.branch, check=False)
        git('config', '--remove-section', f'branch.{self.branch}', check=False)


def b4_run(args, cwd, extra_cfg=None, check=True):
    r = subprocess.run(['b4'] + args, cwd=cwd, env=gitenv(extra_cfg), capture_output=True)
    if check and r.returncode:
        die('b4 %s failed:\n%s%s' % (' '.join(args), r.stdout.decode(errors='replace'),
                                     r.stderr.decode(errors='replace')))
    return r


# --- export --------------------------------------------------------------

def unsigned_rewrite(notes):
    def rw(i):
        author = i['author']
        if is_placeholder(author[1]):
            author = UNSIGNED
        return author, strip_placeholder_trailers(i['message'], notes)
    return rw


def normalise(path, date):
    """b4 prep -p writes the time of the run and a random Message-Id: the
    committed form has the commit's author date and no Message-Id, and a zero
    commit id in the mbox From line (as format-patch --zero-commit)."""
    data = open(path, 'rb').read()
    head, sep, body = data.partition(b'\n\n')
    lines = head.split(b'\n')
    out = []
    skip = False
    for i, line in enumerate(lines):
        if i == 0 and line.startswith(b'From '):
            out.append(ZERO_FROM)
            continue
        if skip and line[:1] in (b' ', b'\t'):
            continue
        skip = False
        low = line.lower()
        if low.startswith(b'message-id:'):
            skip = True
            continue
        if low.startswith(b'date:'):
            out.append(b'Date: ' + date.encode())
            skip = True
            continue
        out.append(line)
    open(path, 'wb').write(b'\n'.join(out) + sep + body)


def export_to(tip_ref, outdir):
    """The committed form of a prep branch in outdir: b4 prep -p, normalised."""
    need_b4()
    cover = find_cover(tip_ref)
    tip = git('rev-parse', tip_ref)
    notes = []
    new = copy_series(cover, tip, unsigned_rewrite(notes))
    for n in notes:
        say(f'dropped a trailer with a placeholder address: {n}')
    with TempWorktree('export') as t:
        t.start(new)
        tmp = tempfile.mkdtemp(prefix='series-out.')
        try:
            b4_run(['prep', '-p', tmp], t.path,
                   extra_cfg=[('b4.prep-cover-template', COVER_TEMPLATE)])
            newcover = find_cover(t.branch)
            dates = [git('log', '-1', '--format=%aD', newcover)]
            dates += [git('log', '-1', '--format=%aD', c) for c in commits(f'{newcover}..{t.branch}')]
            files = sorted(f for f in os.listdir(tmp) if f.endswith('.patch'))
            if len(files) != len(dates):
                die(f'b4 wrote {len(files)} files for {len(dates)} commits')
            for f, d in zip(files, dates):
                normalise(os.path.join(tmp, f), d)
            os.makedirs(outdir, exist_ok=True)
            for f in os.listdir(outdir):
                if f.endswith('.patch'):
                    os.unlink(os.path.join(outdir, f))
            for f in files:
                shutil.copyfile(os.path.join(tmp, f), os.path.join(outdir, f))
            return files
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def write_series(path, files):
    with open(path, 'w') as fh:
        fh.write('# patch order (quilt): written by make series-export (b4 prep -p),\n'
                 '# applied with git am by make tree\n')
        for f in files:
            if not f.startswith('0000-'):
                fh.write(f + '\n')


def cmd_export(args):
    setup()
    if not git('rev-parse', '-q', '--verify', f'refs/heads/{BRANCH}', check=False):
        die(f'no branch {BRANCH}: run `make series-import` first')
    if os.path.exists(os.path.join(WT, '.git')):
        dirty = git('status', '--porcelain', '--untracked-files=no', cwd=WT)
        if dirty:
            say(f'warning: {WT} has uncommitted changes; they are not exported')
    files = export_to(f'refs/heads/{BRANCH}', PATCHES)
    write_series(SERIES, files)
    _, tracking = load_tracking(find_cover(f'refs/heads/{BRANCH}'))
    s = tracking['series']
    say(f"exported {BRANCH} v{s['revision']} ({len(files) - 1} patches, change-id {s['change-id']}) "
        f"to patches/ and series")
    st = subprocess.run(['git', '-C', TOP, 'status', '--short', '--', 'patches', 'series'],
                        capture_output=True, text=True).stdout
    print(st.rstrip() if st.strip() else f'{PROG}: patches/ unchanged')


# --- import --------------------------------------------------------------

def build_from(patch_dir, series_list, base=None, change_id=None):
    """The prep branch commits for an exported series: returns (tip, info, cid)."""
    info = parse_cover(cover_file(patch_dir))
    base = base or BASE
    if info['base_commit'] and info['base_commit'] != base:
        say(f"note: the cover letter's base-commit is {info['base_commit'][:12]}, "
            f"the tree's base is {base[:12]}")
    cid = change_id or info['change_id'] or history_change_id() or default_change_id(info, base)
    base_tree = git('rev-parse', base + '^{tree}')
    cover = commit_tree(base_tree, base, cover_commit_message(info, cid), ME,
                        str(info['date']))
    tip = mini_am(cover, [os.path.join(patch_dir, f) for f in series_list])
    return tip, info, cid


def history_change_id():
    """The newest change-id in the project's history of patches/: a revision
    exported without b4 (no change-id: line) keeps the series' change-id."""
    log = subprocess.run(['git', '-C', TOP, 'log', '--format=%H', '--', 'patches/'],
                         capture_output=True, text=True).stdout.split()
    for c in log:
        names = subprocess.run(['git', '-C', TOP, 'ls-tree', '--name-only', c, 'patches/'],
                               capture_output=True, text=True).stdout.split()
        cov = [n for n in names if os.path.basename(n).startswith('0000-')]
        if len(cov) != 1:
            continue
        data = subprocess.run(['git', '-C', TOP, 'show', f'{c}:{cov[0]}'],
                              capture_output=True, text=True).stdout
        m = re.search(r'^change-id: (\S+)$', data, re.M)
        if m:
            return m.group(1)
    return None


def history_revisions(current):
    """Newest project commit for each earlier revision of patches/."""
    log = subprocess.run(['git', '-C', TOP, 'log', '--format=%H', '--', 'patches/'],
                         capture_output=True, text=True).stdout.split()
    found = {}
    for c in log:
        names = subprocess.run(['git', '-C', TOP, 'ls-tree', '--name-only', c, 'patches/'],
                               capture_output=True, text=True).stdout.split()
        cov = [n for n in names if os.path.basename(n).startswith('0000-')]
        if len(cov) != 1:
            continue
        data = subprocess.run(['git', '-C', TOP, 'show', f'{c}:{cov[0]}'],
                              capture_output=True).stdout
        try:
            rev = parse_cover(data)['revision']
        except SystemExit:
            continue
        if rev < current and rev not in found:
            found[rev] = (c, names)
    return found


def tag_message(info, cid, tip_patches_dir):
    cov = open(cover_file(tip_patches_dir), 'rb').read()
    _, msg = read_mail(cov)
    body = body_text(msg).split('\n-- \n')[0].rstrip() + '\n'
    if not re.search(r'^change-id:', body, re.M):
        body += f'change-id: {cid}\n'
    if not re.search(r'^base-commit:', body, re.M):
        body += f'base-commit: {BASE}\n'
    return f"{msg['Subject']}\n\n{body}"


def make_sent_tags(cid, current):
    """sent/<change-id>-vN tags (b4's form: the patches without the cover on
    their base, the cover letter as tag message) for earlier revisions."""
    made = []
    for rev, (c, names) in sorted(history_revisions(current).items()):
        tag = f'sent/{cid}-v{rev}'
        if git('rev-parse', '-q', '--verify', f'refs/tags/{tag}', check=False):
            continue
        tmp = tempfile.mkdtemp(prefix='series-hist.')
        try:
            for n in names:
                data = subprocess.run(['git', '-C', TOP, 'show', f'{c}:{n}'], capture_output=True).stdout
                open(os.path.join(tmp, os.path.basename(n)), 'wb').write(data)
            stext = subprocess.run(['git', '-C', TOP, 'show', f'{c}:series'],
                                   capture_output=True, text=True).stdout
            slist = series_files(text=stext)
            info = parse_cover(cover_file(tmp))
            base = info['base_commit'] or BASE
            if not git('rev-parse', '-q', '--verify', base + '^{commit}', check=False):
                say(f'v{rev} (project commit {c[:12]}): base {base[:12]} not in the kernel repo, no tag')
                continue
            tip = mini_am(base, [os.path.join(tmp, f) for f in slist])
            e = gitenv()
            git('tag', '-a', '-F', '-', tag, tip, input=tag_message(info, cid, tmp).encode(), env=e)
            made.append(f'{tag} (project commit {c[:12]})')
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return made


def same_series(a, b):
    """Same trees and the same commit messages and authors, cover..tip."""
    ca, cb = find_cover(a), find_cover(b)
    la, lb = commits(f'{ca}^..{a}'), commits(f'{cb}^..{b}')
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        ix, iy = commit_info(x), commit_info(y)
        if (ix['tree'], ix['author'], ix['date'], ix['message']) != \
           (iy['tree'], iy['author'], iy['date'], iy['message']):
            return False
    return True


def set_worktree_identity():
    git('config', 'extensions.worktreeConfig', 'true')
    git('config', '--worktree', 'user.name', ME[0], cwd=WT)
    git('config', '--worktree', 'user.email', ME[1], cwd=WT)


def cmd_import(args):
    setup()
    need_b4()
    tip, info, cid = build_from(PATCHES, series_files())
    ref = f'refs/heads/{BRANCH}'
    old = git('rev-parse', '-q', '--verify', ref, check=False)
    force = os.environ.get('FORCE') == '1'
    if old and not force and not same_series(old, tip):
        die(f'{BRANCH} exists and differs from patches/ (unexported work?): export it, '
            f'or FORCE=1 make series-import to replace it (the old head stays in the reflog: '
            f'{old[:12]})')
    have_wt = os.path.exists(os.path.join(WT, '.git'))
    if have_wt:
        cur = git('symbolic-ref', '-q', 'HEAD', cwd=WT, check=False)
        if cur != ref:
            die(f'{WT} is not on {BRANCH} ({cur or "detached"})')
        if git('status', '--porcelain', '--untracked-files=no', cwd=WT) and not force:
            die(f'{WT} has uncommitted changes (FORCE=1 to discard them)')
    if old and same_series(old, tip) and not force:
        say(f'{BRANCH} already matches patches/ (kept {old[:12]})')
        tip = old
    git('config', f'branch.{BRANCH}.b4-prep-cover-strategy', 'commit')
    if have_wt:
        git('reset', '-q', '--hard', tip, cwd=WT)
    else:
        git('update-ref', '-m', 'series import', ref, tip)
        os.makedirs(os.path.dirname(WT), exist_ok=True)
        say(f'checking out {BRANCH} in {WT}')
        git('worktree', 'prune')
        git('worktree', 'add', '-q', WT, BRANCH)
    set_worktree_identity()
    tags = make_sent_tags(cid, info['revision'])
    n = len(commits(f'{find_cover(ref)}..{ref}'))
    print(f"{PROG}: {BRANCH}: v{info['revision']}, {n} patches on {BASE[:12]}, change-id {cid}")
    print(f'{PROG}: worktree {WT}')
    for t in tags:
        print(f'{PROG}: tagged {t}')
    sent = git('tag', '-l', f'sent/{cid}-v*')
    if sent:
        print(f'{PROG}: earlier revisions: ' + ' '.join(sent.split()))


# --- check ---------------------------------------------------------------

def sign_rewrite(who):
    def rw(i):
        author = i['author']
        if is_placeholder(author[1]):
            author = who
        msg = strip_placeholder_trailers(i['message'])
        r = subprocess.run(['git', 'interpret-trailers', '--if-exists', 'addIfDifferentNeighbor',
                            '--trailer', f'Signed-off-by: {who[0]} <{who[1]}>'],
                           input=msg.encode(), capture_output=True, env=gitenv())
        return author, r.stdout.decode()
    return rw


CHECKPATCH_OPTS = '-q --terse --no-summary --mailback --showfile --strict --ignore UNKNOWN_COMMIT_ID'
ANSI = re.compile(r'\x1b\[([0-9;]*)m')


def checkpatch_cmd():
    cp = os.path.join(BASE_WT, 'scripts', 'checkpatch.pl')
    if not os.access(cp, os.X_OK):
        die(f'{cp} missing')
    return f'{cp} {CHECKPATCH_OPTS}'


def b4_check(branch_tip, tap):
    """b4 prep --check on a copy of the series signed by the configured
    identity (what `sign` + b4 send would mail); with b4 < 0.14, or
    B4_CHECK=emulate, the same checkpatch command on b4 prep -p's output."""
    v = need_b4()
    cover = find_cover(branch_tip)
    signed = copy_series(cover, git('rev-parse', branch_tip), sign_rewrite(ME))
    cmd = checkpatch_cmd()
    results = []   # (subject, [(flag, text)])
    with TempWorktree('check') as t:
        t.start(signed)
        subjects = [git('log', '-1', '--format=%s', c) for c in commits(f'{find_cover(t.branch)}..{t.branch}')]
        if v >= B4_MIN and os.environ.get('B4_CHECK') != 'emulate':
            tap.comment(f'b4 prep --check (b4.prep-perpatch-check-cmd = {cmd})')
            r = b4_run(['prep', '--check'], t.path, extra_cfg=[('b4.prep-perpatch-check-cmd', cmd)])
            out = (r.stdout + r.stderr).decode(errors='replace')
            cur = None
            for line in out.split('\n'):
                m = re.match(r'^(\s*)\x1b\[([0-9;]*)m\u25cf\x1b\[0m (.*)$', line)
                if not m:
                    continue
                flag = {'32': 'success', '31': 'warning', '31;5': 'fail'}.get(m.group(2), 'fail')
                if not m.group(1):
                    cur = [re.sub(r'^[0-9a-f]{12}: ', '', m.group(3)), []]
                    results.append(cur)
                elif cur is not None and flag != 'success':
                    cur[1].append((flag, m.group(3)))
                elif cur is not None:
                    cur[1].append(('success', m.group(3)))
            summary = [l for l in out.split('\n') if l.startswith('Success:')]
            if summary:
                tap.comment(summary[-1])
        else:
            tap.comment(f'b4 {".".join(map(str, v))}: b4 prep -p, then per patch: {cmd}')
            tmp = tempfile.mkdtemp(prefix='series-chk.')
            try:
                b4_run(['prep', '-p', tmp], t.path)
                files = sorted(f for f in os.listdir(tmp) if not f.startswith('0000-'))
                for f, s in zip(files, subjects):
                    with open(os.path.join(tmp, f), 'rb') as fh:
                        r = subprocess.run(cmd.split(), stdin=fh, capture_output=True,
                                           cwd=BASE_WT, env=gitenv())
                    rep = []
                    for line in r.stdout.decode(errors='replace').strip().split('\n'):
                        if line:
                            rep.append(('fail' if 'ERROR:' in line else 'warning', line))
                    for line in r.stderr.decode(errors='replace').strip().split('\n'):
                        if line:
                            rep.append(('fail', line))
                    if not rep and r.returncode:
                        rep.append(('fail', f'exited with {r.returncode}'))
                    results.append([s, rep])
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    if len(results) != len(subjects):
        tap.notok(f'b4 prep --check reported {len(results)} of {len(subjects)} patches')
    for subj, rep in results:
        bad = [x for x in rep if x[0] != 'success']
        if bad:
            tap.notok(f'checkpatch --strict: {subj}')
            for flag, text in bad:
                tap.comment(f'{flag}: {text}')
        else:
            tap.ok(f'checkpatch --strict: {subj}')


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, what):
        self.n += 1
        print(f'ok {self.n} {what}', flush=True)

    def notok(self, what):
        self.n += 1
        self.failed += 1
        print(f'not ok {self.n} {what}', flush=True)

    def skip(self, what, why):
        self.n += 1
        print(f'ok {self.n} {what} # SKIP {why}', flush=True)

    def comment(self, text):
        for line in str(text).rstrip('\n').split('\n'):
            print(f'# {line}', flush=True)

    def done(self):
        print(f'1..{self.n}')
        return 1 if self.failed else 0


def identity_problems(path):
    _, msg = read_mail(path)
    probs = []
    frm = email.utils.parseaddr(str(msg['From']))
    if is_placeholder(frm[1]) and frm != UNSIGNED:
        probs.append(f'From: {msg["From"]}')
    for line in body_text(msg).split('\n'):
        m = TRAILER_ADDR.match(line)
        if m and is_placeholder(m.group(2)):
            probs.append(line)
    return probs


def cmd_check(args):
    tap = Tap()
    setup()
    v, s = b4_version()
    if not v:
        tap.notok('b4 installed (run make series-deps)')
        sys.exit(tap.done())
    tap.ok(f'b4 {s} installed' + ('' if v >= B4_MIN else ' (< 0.14: checkpatch as b4 would run it)'))
    files = series_files()
    probs = []
    for f in [os.path.basename(cover_file())] + files:
        probs += [f'{f}: {p}' for p in identity_problems(os.path.join(PATCHES, f))]
    if probs:
        tap.notok('no placeholder identity in patches/ (From:, Signed-off-by:, other trailers)')
        tap.comment('\n'.join(probs))
    else:
        tap.ok('no placeholder identity in patches/ (From:, Signed-off-by:, other trailers)')
    # Round trip: import patches/ on a scratch ref, export it again.
    tip, info, cid = build_from(PATCHES, files)
    tmp = tempfile.mkdtemp(prefix='series-rt.')
    try:
        out = os.path.join(tmp, 'patches')
        got = export_to(tip, out)
        write_series(os.path.join(tmp, 'series'), got)
        want = sorted(f for f in os.listdir(PATCHES) if f.endswith('.patch'))
        d = subprocess.run(['diff', '-ru', '-x', 'README*', PATCHES, out], capture_output=True, text=True)
        ds = subprocess.run(['diff', '-u', SERIES, os.path.join(tmp, 'series')],
                            capture_output=True, text=True)
        what = f'patches/ and series are b4 prep -p output, byte-stable (v{info["revision"]}, change-id {cid})'
        if d.returncode == 0 and ds.returncode == 0 and want == got:
            tap.ok(what)
        else:
            tap.notok(what)
            tap.comment('re-exporting patches/ changes them (hand-edited, or not exported by '
                        'make series-export?):')
            tap.comment('\n'.join((d.stdout + ds.stdout).split('\n')[:60]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    b4_check(tip, tap)
    sys.exit(tap.done())


# --- compare, reroll, sign ------------------------------------------------

def need_wt():
    if not os.path.exists(os.path.join(WT, '.git')):
        die(f'no {WT}: run `make series-import` first')
    set_worktree_identity()


def cmd_compare(args):
    setup()
    need_b4(B4_MIN)
    need_wt()
    _, tracking = load_tracking(find_cover(f'refs/heads/{BRANCH}'))
    rev = tracking['series']['revision']
    want = args[0] if args else f'v{rev - 1}'
    if want.lstrip('v') == '0':
        die('revision 1 has no previous revision')
    os.chdir(WT)
    os.execvpe('b4', ['b4', 'prep', '--compare-to', want], gitenv())


def cmd_reroll(args):
    """b4 prep --manual-reroll without a Message-Id: the revision was
    published as patches/ (and perhaps not mailed)."""
    setup()
    need_b4(B4_MIN)
    need_wt()
    if git('status', '--porcelain', '--untracked-files=no', cwd=WT):
        die(f'{WT} has uncommitted changes')
    ref = f'refs/heads/{BRANCH}'
    cover = find_cover(ref)
    text, tracking = load_tracking(cover)
    s = tracking['series']
    rev, cid = s['revision'], s['change-id']
    tag = f'sent/{cid}-v{rev}'
    if git('rev-parse', '-q', '--verify', f'refs/tags/{tag}', check=False):
        say(f'{tag} exists already')
    else:
        tip = git('rev-parse', ref)
        tagged = git('rev-parse', cover + '^')
        for c in commits(f'{cover}..{tip}'):
            i = commit_info(c)
            tagged = commit_tree(i['tree'], tagged, i['message'], i['author'], i['date'])
        tmp = tempfile.mkdtemp(prefix='series-rr.')
        try:
            export_to(ref, tmp)
            git('tag', '-a', '-F', '-', tag, tagged,
                input=tag_message(parse_cover(cover_file(tmp)), cid, tmp).encode())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        say(f'tagged {tag}')
    from b4.ez import make_magic_json
    s['revision'] = rev + 1
    s.setdefault('history', {}).setdefault(f'v{rev}', [])
    section = (f'Changes in v{rev + 1}:\n'
               '- EDITME: describe what is new in this series revision\n'
               f'  (make series-compare: range-diff against v{rev}).\n\n')
    parts = text.split('---\n')
    for i, p in enumerate(parts):
        if re.search(r'^changes in v\d+', p, re.I | re.M):
            parts[i] = section + p
            break
    else:
        parts[-1] = parts[-1] + '\n\n---\n' + section
    text = '---\n'.join(parts).strip()
    new = copy_series(cover, git('rev-parse', ref), lambda i: (i['author'], i['message']),
                      cover_message=f'{text}\n\n{make_magic_json(tracking)}')
    git('reset', '-q', '--hard', new, cwd=WT)
    print(f'{PROG}: {BRANCH} is now v{rev + 1}; write its changes with `b4 prep --edit-cover` '
          f'in {WT}')


def cmd_sign(args):
    setup()
    need_wt()
    if is_placeholder(ME[1]) and os.environ.get('SERIES_ALLOW_PLACEHOLDER') != '1':
        die(f'git config user.email is {ME[1]}, a reserved (placeholder) address: a '
            'Signed-off-by certifies the DCO as a person; configure your own name and address')
    if git('status', '--porcelain', '--untracked-files=no', cwd=WT):
        die(f'{WT} has uncommitted changes')
    ref = f'refs/heads/{BRANCH}'
    new = copy_series(find_cover(ref), git('rev-parse', ref), sign_rewrite(ME))
    git('reset', '-q', '--hard', new, cwd=WT)
    print(f'{PROG}: {BRANCH}: patches by {UNSIGNED[0]} are now yours, each signed off by '
          f'{ME[0]} <{ME[1]}>; send with `b4 send` in {WT}')


def main():
    cmds = {'import': cmd_import, 'export': cmd_export, 'check': cmd_check,
            'compare': cmd_compare, 'reroll': cmd_reroll, 'sign': cmd_sign}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(open(__file__).read().split('\nimport ')[0].split('\n', 1)[1]
              .replace('# ', '').replace('#', ''), end='')
        sys.exit(2)
    global PROG
    sys.stdout.reconfigure(line_buffering=True)
    PROG = 'series-' + sys.argv[1]
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == '__main__':
    main()
