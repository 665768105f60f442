#!/bin/sh
# tufup installer for macOS and Linux.
#
# Started detached by @tufup/electron-client when the app quits with a staged update. It waits for the
# app to exit, swaps the staged folder into the install folder's place, optionally relaunches the app and
# waits for it to confirm a healthy start, and rolls back to the previous install on any failure.
# It is a file in the package (not a string built at run time) so it can be read and audited.
#
# usage: install.sh --pid PID --install DIR --staged DIR --backup DIR --log FILE --result FILE
#                   --version VERSION [--wait-timeout SECONDS] [--health-timeout SECONDS]
#                   [--health-marker FILE] [--mode install|finish] [--keep PATTERN]...
#                   [-- RELAUNCH COMMAND...]
#
# The result file gets one line, "<status> <version> [<reason>]", status being installed, rolled-back or
# failed; the app writes "started <version>" before it starts this script, and this script writes
# "rolling-back <version> <reason>" while it rolls back, so the next launch knows what an interrupted run
# was doing. The backup folder must be a sibling of the install folder so that moving it is a rename.
#
# Names beside the install folder, and what each holds whenever a run is interrupted:
#   .<name>.tufup-backup    the previous version, complete (right after the exchange of a rollback: the new one)
#   .<name>.tufup-incoming  the new version before the swap (right after the exchange: the previous one)
#   .<name>.tufup-failed    a new version being thrown away by a rollback (maybe half deleted)
#   .<name>.tufup-trash     a previous version being thrown away after a good install (maybe half deleted)
# The app's next launch finishes an interrupted run (src/install/recovery.ts): it knows which version
# runs, which tells the transient cases apart.
#
# --keep PATTERN (repeatable): files of the install folder that the bundle does not have but must survive
# the update (an uninstaller an installer put there: `Uninstall *.exe`). Before the swap, each file whose
# path relative to the install folder matches (`*` matches anything) is copied into the new version,
# unless the new version has something at that path: a file the bundle replaces is never carried over.
# The old install stays whole for a rollback.
#
# One-file installs (an AppImage): when --install is a file, the staged folder holds exactly one file, the
# new version; it is swapped for the install file the same way (an atomic exchange of the two files, or two
# renames), under the install file's own name, and everything else (backup, health check, rollback,
# recovery) works as for a folder.
#
# --mode finish: the next launch found the new version running after a run interrupted before it was done
# (killed during the health check or the clean-up). --pid is then the running new version: this script
# waits for its health marker, then removes the previous version, or stops it and rolls back.
#
# The swap is one atomic exchange of the two folders where the system has one (Linux renameat2
# RENAME_EXCHANGE, macOS renameatx_np RENAME_SWAP, called through perl, or GNU mv --exchange), so a kill
# at any moment leaves a runnable install folder. Elsewhere it is two renames in a row; a kill exactly
# between them leaves only the backup, which the next run of this script puts back before anything else.
# TUFUP_INSTALL_NO_EXCHANGE=1 forces the two renames; it exists for tests, not for users.
#
# Durability: a rename is on disk only once the folder that holds the new name is fsynced, and the files it
# publishes only once they are. So every rename here is followed by an fsync of its folder (fsync_paths),
# a copied folder is fsynced whole before it is swapped in (fsync_tree), and the backup is removed and
# `installed` written only after the swap is on disk: a power cut at any moment leaves the old or the new
# version complete, never a folder of empty files with the backup gone.

set -u
umask 022

pid='' install='' staged='' backup='' log='' result='' version=''
wait_timeout=120 health_timeout=0 marker='' mode=install keep=''

usage() {
  echo "install.sh: $1" >&2
  exit 64
}

while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    --*) [ $# -ge 2 ] || usage "$1 needs a value" ;;
    *) usage "unexpected argument $1" ;;
  esac
  case $1 in
    --pid) pid=$2 ;;
    --install) install=$2 ;;
    --staged) staged=$2 ;;
    --backup) backup=$2 ;;
    --log) log=$2 ;;
    --result) result=$2 ;;
    --version) version=$2 ;;
    --wait-timeout) wait_timeout=$2 ;;
    --health-timeout) health_timeout=$2 ;;
    --health-marker) marker=$2 ;;
    --mode) mode=$2 ;;
    --keep) keep="$keep$2
" ;;
    *) usage "unknown option $1" ;;
  esac
  shift 2
done

case $mode in
  install) required='pid install staged backup log result version' ;;
  finish) required='pid install backup log result version' ;;
  *) usage "--mode is install or finish" ;;
esac
for option in $required; do
  eval "value=\${$option}"
  [ -n "$value" ] || usage "--$option is required"
done
case $pid$wait_timeout$health_timeout in
  *[!0-9]*) usage "--pid, --wait-timeout and --health-timeout take whole numbers" ;;
esac
if [ "$health_timeout" -gt 0 ] && [ $# -gt 0 ] && [ -z "$marker" ]; then
  usage "--health-marker is required with --health-timeout and a relaunch command"
fi

parent=$(dirname -- "$install")
name=$(basename -- "$install")
incoming="$parent/.$name.tufup-incoming"
failed="$parent/.$name.tufup-failed"
trash="$parent/.$name.tufup-trash"
phase=waiting
staged_moved=0
staged_item=''
new_inode=none
child=''

log() {
  printf '%s [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*" >>"$log" 2>/dev/null
}

# The folder part of an absolute path, without starting a process.
folder_of() {
  case $1 in
    */*) set -- "${1%/*}"; printf '%s\n' "${1:-/}" ;;
    *) printf '.\n' ;;
  esac
}

# fsync(2) through perl, where `sync FILE` is missing or (macOS) cannot take files. On macOS fsync stops at
# the drive's cache, so F_FULLFSYNC (51) asks the drive too.
FSYNC_PERL='
use strict;
use Fcntl;
use IO::Handle;
my $failed = 0;
for my $path (@ARGV) {
  sysopen(my $fh, $path, O_RDONLY) or do { $failed = 1; next };
  my $done = $^O eq "darwin" ? fcntl($fh, 51, 0) : undef;
  $done or $fh->sync or $failed = 1;
  close $fh;
}
exit $failed;
'

if [ "$(uname -s 2>/dev/null)" = Darwin ]; then darwin=1; else darwin=0; fi

# fsync_paths PATH...: each file's bytes and each folder's names are on disk when it returns. GNU and
# BusyBox `sync FILE...` fsync each file; failing those, perl; failing that, a sync of everything.
fsync_paths() {
  [ $# -gt 0 ] || return 0
  if [ "$darwin" = 0 ] && sync -- "$@" 2>/dev/null; then return 0; fi
  if command -v perl >/dev/null 2>&1 && perl -e "$FSYNC_PERL" -- "$@" 2>/dev/null; then return 0; fi
  sync
}

# fsync_tree DIR: every file and folder below DIR (a folder copied from another volume).
fsync_tree() {
  if [ "$darwin" = 0 ] && find "$1" \( -type f -o -type d \) -exec sync -- {} + 2>/dev/null; then return 0; fi
  if command -v perl >/dev/null 2>&1 && find "$1" \( -type f -o -type d \) -exec perl -e "$FSYNC_PERL" -- {} + 2>/dev/null; then return 0; fi
  sync
}

# move FROM TO: a rename that is on disk when it returns (both folders fsynced).
move() {
  mv -- "$1" "$2" || return 1
  from_dir=$(folder_of "$1") to_dir=$(folder_of "$2")
  if [ "$from_dir" = "$to_dir" ]; then fsync_paths "$to_dir"; else fsync_paths "$to_dir" "$from_dir"; fi
  return 0
}

write_result() {
  # Written to a temporary file, fsynced and renamed so the app never reads half a line, even after a
  # power cut.
  mkdir -p -- "$(dirname -- "$result")" 2>/dev/null
  if printf '%s %s%s\n' "$1" "$version" "${2:+ $2}" >"$result.tmp" 2>/dev/null; then
    fsync_paths "$result.tmp"
    mv -f -- "$result.tmp" "$result" 2>/dev/null && fsync_paths "$(folder_of "$result")"
  fi
}

# Fractional sleeps are not POSIX; fall back to whole seconds where they are missing.
if sleep 0.01 2>/dev/null; then nap=0.2 per_second=5; else nap=1 per_second=1; fi

# True while the process runs. A process that has exited but was not reaped yet (a zombie) counts as
# gone: the app's parent may be slow to reap it, and its files are released already.
alive() {
  if [ -d /proc/self ]; then
    state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
  elif command -v ps >/dev/null 2>&1; then
    state=$(ps -p "$1" -o stat= 2>/dev/null)
    case $state in '' | Z*) return 1 ;; *) return 0 ;; esac
  else
    kill -0 "$1" 2>/dev/null
  fi
}

same_volume() {
  a=$(stat -c %d -- "$1" 2>/dev/null || stat -f %d -- "$1" 2>/dev/null) || return 1
  b=$(stat -c %d -- "$2" 2>/dev/null || stat -f %d -- "$2" 2>/dev/null) || return 1
  [ -n "$a" ] && [ "$a" = "$b" ]
}

# Prints the inode number of a path, which tells whether an exchange really happened.
inode() {
  ls -di -- "$1" 2>/dev/null | sed -n 's/^ *\([0-9][0-9]*\) .*/\1/p'
}

# The system call numbers are those of perl's own ABI (its archname), not of the kernel's machine: a
# 32-bit perl on a 64-bit kernel uses the 32-bit table. Unknown ABIs exit 3 rather than guess a number.
EXCHANGE_PERL='
use strict;
use Config;
my ($from, $to) = @ARGV;
my ($nr, $cwd);
if ($^O eq "linux") {
  my $arch = $Config{archname};
  $cwd = -100;
  if ($arch =~ /^x86_64-linux(?!-gnux32)/ && $Config{ptrsize} == 8) { $nr = 316 }
  elsif ($arch =~ /^(?:aarch64|arm64|riscv64|loongarch64)-linux/) { $nr = 276 }
} elsif ($^O eq "darwin") {
  $cwd = -2;
  $nr = 488;
}
defined $nr or do { print STDERR "no exchange call known for $^O $Config{archname}"; exit 3 };
# RENAME_EXCHANGE (Linux) and RENAME_SWAP (macOS) are both 2.
syscall($nr, $cwd, $from, $cwd, $to, 2) == 0 or do { print STDERR "$!"; exit 1 };
exit 0;
'

# exchange A B: swaps two folders of the same parent in one atomic step. Fails, changing nothing, where
# the system or the file system has no such step.
exchange() {
  [ "${TUFUP_INSTALL_NO_EXCHANGE:-}" = 1 ] && return 1
  ino_a=$(inode "$1") ino_b=$(inode "$2")
  [ -n "$ino_a" ] && [ -n "$ino_b" ] || return 1
  how=''
  if command -v perl >/dev/null 2>&1; then
    if why=$(perl -e "$EXCHANGE_PERL" -- "$1" "$2" 2>&1); then how=perl; else log "no exchange through perl (exit $?) ${why}"; fi
  fi
  if [ -z "$how" ] && mv --help 2>/dev/null | grep -q -e '--exchange'; then
    if why=$(mv --exchange -T -- "$1" "$2" 2>&1); then how='mv --exchange'; else log "no exchange through mv (exit $?) ${why}"; fi
  fi
  [ -n "$how" ] || return 1
  # Trust the folders, not the exit status: the exchange happened only if the inodes traded places.
  now_a=$(inode "$1") now_b=$(inode "$2")
  if [ "$now_a" = "$ino_b" ] && [ "$now_b" = "$ino_a" ]; then
    fsync_paths "$(folder_of "$2")"
    log "exchanged $1 and $2 atomically ($how)"
    return 0
  fi
  if [ "$now_a" = "$ino_a" ] && [ "$now_b" = "$ino_b" ]; then
    log "the exchange by $how reported success but changed nothing"
    return 1
  fi
  # Returned only when neither folder is where it was: the caller must not rename anything more.
  log "the exchange by $how left the folders in an unknown state"
  return 2
}

# Gives the staged folder back (when it was moved rather than copied) so a later attempt can retry.
undo_incoming() {
  if [ -e "$incoming" ]; then
    if [ "$staged_moved" = 1 ] && [ ! -e "$staged_item" ]; then
      move "$incoming" "$staged_item" 2>/dev/null || rm -rf -- "$incoming"
    else
      rm -rf -- "$incoming"
    fi
  fi
}

# fail REASON [RELAUNCH COMMAND...]: the previous install is in place; start it again when asked.
fail() {
  reason=$1
  shift
  log "failed: $reason; the previous install stays in place"
  write_result failed "$reason"
  relaunch "$@"
  exit 1
}

relaunch() {
  [ $# -gt 0 ] || return 0
  # The subshell exits at once, so the app is re-parented to init (which reaps it) and does not depend on
  # this script; ELECTRON_RUN_AS_NODE would make the relaunched app start as plain Node.
  child=$( (unset ELECTRON_RUN_AS_NODE; cd / && "$@" </dev/null >/dev/null 2>&1 & echo $!) )
  log "relaunched $* as pid $child"
}

stop_child() {
  [ -n "$child" ] || return 0
  alive "$child" || return 0
  kill "$child" 2>/dev/null
  ticks=0
  while alive "$child" && [ "$ticks" -lt $((5 * per_second)) ]; do sleep "$nap"; ticks=$((ticks + 1)); done
  alive "$child" && kill -9 "$child" 2>/dev/null
  return 0
}

# Puts the backup back in the install folder's place; the new version goes aside and is deleted.
restore_backup() {
  [ -e "$backup" ] || return 1
  if [ -e "$install" ]; then
    exchange "$backup" "$install"
    case $? in
      0)
        # The new version now sits at the backup name: away with it, under the name that says so.
        rm -rf -- "$failed"
        move "$backup" "$failed" && rm -rf -- "$failed"
        return 0
        ;;
      2) return 1 ;;
    esac
  fi
  if [ -e "$install" ]; then
    rm -rf -- "$failed"
    move "$install" "$failed" || return 1
  fi
  if move "$backup" "$install"; then
    rm -rf -- "$failed"
    return 0
  fi
  [ -e "$failed" ] && move "$failed" "$install"
  return 1
}

# rollback REASON [RELAUNCH COMMAND...]
rollback() {
  reason=$1
  shift
  log "rolling back $version: $reason"
  # Said first: a run killed from here on was rolling back, and the next launch must not install this
  # version again as if it had never been tried.
  write_result rolling-back "$reason"
  phase=rolling-back
  stop_child
  if restore_backup; then
    log "restored the previous install"
  else
    log "could not restore the previous install from $backup"
  fi
  # The result comes first: the old version reads it when it starts, to stop offering this one.
  write_result rolled-back "$reason"
  relaunch "$@"
  exit 1
}

# carry_over: copies the files matching --keep from the install folder into the new version (see above),
# fsynced, before the swap publishes them.
carry_over() {
  [ -n "$keep" ] || return 0
  # Relative to the install folder, so that its own name is never read as a pattern.
  printf '%s' "$keep" | while IFS= read -r pattern; do
    [ -n "$pattern" ] || continue
    (cd -- "$install" && find . -path "./$pattern" \( -type f -o -type l \) -print 2>/dev/null)
  done | while IFS= read -r path; do
    rel=${path#./}
    target="$incoming/$rel"
    # The new version has this path (a file it replaces, or a folder): it wins.
    if [ -e "$target" ] || [ -L "$target" ]; then log "not carrying over $rel: the new version has it"; continue; fi
    dir=$(folder_of "$target")
    # Never write through a link of the new version.
    if [ "$dir" != "$incoming" ] && [ -L "$dir" ]; then log "not carrying over $rel: its folder is a link"; continue; fi
    if mkdir -p -- "$dir" && cp -P -p -- "$install/$rel" "$target"; then
      fsync_paths "$target" "$dir"
      log "carried over $rel"
    else
      log "could not carry over $rel"
    fi
  done
  return 0
}

# The previous version is no longer needed: renamed to the trash name first (so a backup is always
# complete: a kill during the deletion leaves only trash behind), deleted, then the result written, so
# `installed` means nothing is left beside the install folder.
retire_backup() {
  if [ -e "$trash" ]; then rm -rf -- "$trash"; fi
  if [ -e "$backup" ]; then move "$backup" "$trash" || rm -rf -- "$backup"; fi
  rm -rf -- "$trash"
  rm -rf -- "$failed" "$incoming"
  write_result installed
}

# The health check: waits for the marker of $version while $child runs, up to the health timeout; rolls
# back (and exits) when it does not come.
await_health() {
  phase=health
  ticks=0
  reason=''
  while [ ! -e "$marker" ]; do
    if ! alive "$child"; then reason=exited-before-healthy; break; fi
    if [ "$ticks" -ge $((health_timeout * per_second)) ]; then reason=health-timeout; break; fi
    sleep "$nap"
    ticks=$((ticks + 1))
  done
  # The app may mark itself healthy and exit right away: check the marker once more.
  [ -e "$marker" ] || rollback "$reason" "$@"
  log "$version reported a healthy start"
}

on_signal() {
  log "interrupted during $phase"
  case $phase in
    installed | health | rolling-back)
      # The new version is in place (it may be running) or the old one is being put back: the result keeps
      # saying what this run was doing, and the app's next launch finishes it.
      exit 1
      ;;
    staging) undo_incoming ;;
    swapping | exchanged)
      # An exchange that completed left the old version at the incoming name: trade back first. Should
      # that fail, the new version stays in place (it runs) and the old one stays beside it.
      if [ -n "$new_inode" ] && [ -e "$incoming" ] && [ "$(inode "$install")" = "$new_inode" ]; then
        exchange "$incoming" "$install" || { write_result failed interrupted; exit 1; }
      fi
      restore_backup
      undo_incoming
      ;;
  esac
  write_result failed interrupted
  exit 1
}
trap on_signal HUP INT TERM

if [ "$mode" = finish ]; then
  log "finishing the interrupted install of $version in $install (pid $pid runs it)"
  [ -e "$install" ] || fail install-missing
  # Killed right after the exchange, the last run left the previous version at the incoming name.
  if [ ! -e "$backup" ] && [ -e "$incoming" ]; then move "$incoming" "$backup" || fail install-not-writable; fi
  phase=installed
  if [ -e "$backup" ] && [ "$health_timeout" -gt 0 ] && [ -n "$marker" ]; then
    # The running new version is the one whose start is checked: a rollback stops it first.
    child=$pid
    await_health "$@"
  fi
  retire_backup
  log "installed $version"
  exit 0
fi

log "installing $version into $install (waiting for pid $pid)"

ticks=0
while alive "$pid"; do
  [ "$ticks" -ge $((wait_timeout * per_second)) ] && fail app-still-running
  sleep "$nap"
  ticks=$((ticks + 1))
done
log "pid $pid has exited"

# An earlier attempt killed between two renames left no install folder: put the backup back first. That
# happens only where there is no exchange, so what sits at the incoming name is the new version that
# attempt had moved out of the staged folder: give it back, and this run installs it.
if [ ! -e "$install" ] && [ -e "$backup" ]; then
  log "restoring the install folder from a backup left by an interrupted attempt"
  move "$backup" "$install" || fail install-missing "$@"
  # (A one-file install's file is not given back: its staged folder would no longer verify.)
  if [ ! -e "$staged" ] && [ -d "$incoming" ]; then
    mkdir -p -- "$(dirname -- "$staged")" && move "$incoming" "$staged" && log "took the staged folder back from $incoming"
  fi
fi

[ -d "$staged" ] || fail staged-missing "$@"
[ -n "$(ls -A -- "$staged" 2>/dev/null)" ] || fail staged-empty "$@"
[ -e "$install" ] || fail install-missing "$@"

# What moves into the install folder's place: the staged folder, or for a one-file install (an AppImage)
# the one file in it.
staged_item=$staged
if [ -f "$install" ]; then
  entries=$(ls -A -- "$staged")
  case $entries in
    *'
'*) fail staged-not-one-file "$@" ;;
  esac
  staged_item="$staged/$entries"
  [ -f "$staged_item" ] || fail staged-not-one-file "$@"
  keep=''
fi

# Leftovers of an earlier attempt that was killed: the install folder in place is the one that runs, so
# whatever sits beside it is stale.
rm -rf -- "$incoming" "$failed" "$trash"
if [ -e "$backup" ]; then
  log "removing a stale backup"
  rm -rf -- "$backup" || fail install-not-writable "$@"
fi

phase=staging
if same_volume "$staged" "$parent"; then
  move "$staged_item" "$incoming" || fail install-not-writable "$@"
  staged_moved=1
else
  log "copying the staged folder across volumes"
  if ! cp -R -P -p -- "$staged_item" "$incoming"; then
    rm -rf -- "$incoming"
    fail install-not-writable "$@"
  fi
  # The copy's bytes must be on disk before the swap publishes them.
  fsync_tree "$incoming"
  fsync_paths "$parent"
fi

carry_over

# One atomic exchange where the system has it: the install folder is never missing. The old version
# then sits at the incoming name and is renamed to the backup.
new_inode=$(inode "$incoming")
phase=swapping
exchange "$incoming" "$install"
case $? in
  0)
    phase=exchanged
    if ! move "$incoming" "$backup"; then
      exchange "$incoming" "$install" && undo_incoming
      fail swap-failed "$@"
    fi
    ;;
  1)
    # The two renames below are the only moment the install folder is missing; nothing runs between them.
    log "no atomic exchange here: swapping with two renames"
    if ! move "$install" "$backup"; then
      undo_incoming
      fail install-not-writable "$@"
    fi
    if ! move "$incoming" "$install"; then
      move "$backup" "$install"
      undo_incoming
      fail swap-failed "$@"
    fi
    ;;
  *)
    # An unknown state (see the log): renaming anything more could make it worse.
    fail swap-failed "$@"
    ;;
esac
phase=installed
log "swapped in $version; the previous install is at $backup"

if [ $# -gt 0 ] && [ "$health_timeout" -gt 0 ]; then
  rm -f -- "$marker"
  relaunch "$@"
  await_health "$@"
else
  relaunch "$@"
fi

[ "$staged_moved" = 1 ] || rm -rf -- "$staged"
retire_backup
log "installed $version"
exit 0
