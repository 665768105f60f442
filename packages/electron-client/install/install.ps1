# tufup installer for Windows (Windows PowerShell 5.1 and PowerShell 7).
#
# Started detached by @tufup/electron-client when the app quits with a staged update:
#   powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -File install.ps1
#     -AppPid PID -InstallDir DIR -StagedDir DIR -BackupDir DIR -LogFile FILE -ResultFile FILE -Version V
#     [-WaitTimeout SECONDS] [-HealthTimeout SECONDS] [-HealthMarker FILE] [-Mode install|finish]
#     [-Keep BASE64-JSON-ARRAY] [-Relaunch BASE64-JSON-ARRAY]
# It waits for the app (and every process running from the install folder) to exit, swaps the staged
# folder into the install folder's place, optionally relaunches the app and waits for it to confirm a
# healthy start, and puts the previous install back on any failure. The result file gets one line,
# "<installed|rolled-back|failed> <version> [<reason>]", like install.sh (the same steps, in the same order).
# The app writes "started <version>" before it starts this script, and this script "rolling-back <version>
# <reason>" while it rolls back, so the app's next launch can finish an interrupted run (see install.sh for
# what each name beside the install folder holds). -Mode finish: that launch found the new version running
# (-AppPid) after a run killed during its health check or clean-up; this script waits for its health marker,
# then removes the previous version, or stops it and rolls back.
#
# -Keep: patterns of files in the install folder that the bundle does not have but must survive the
# update (`Uninstall *.exe`, which NSIS puts there); relative paths with `/`, `*` matching anything. Each
# matching file is copied into the new version before the swap unless the new version has that path: a file
# the bundle replaces is never carried over. The old install stays whole for a rollback.
#
# The relaunch command arrives as base64 of a JSON array so that no argument can be mistaken for a
# parameter of this script and no quoting is lost on the way.
#
# Windows has no atomic exchange of two folders (MoveFileEx cannot replace a folder), so the swap is two
# renames in a row: a kill exactly between them leaves no install folder, with the previous version intact
# at the backup name. The next run of this script puts the backup back before anything else.
#
# Durability: every rename goes through MoveFileEx with MOVEFILE_WRITE_THROUGH, which returns once the
# move is on disk (NTFS journals the rename; Windows has no folder fsync a script can call); a folder copied
# from another volume and the result file are flushed (FlushFileBuffers, through FileStream.Flush($true))
# before the rename that publishes them. So the backup is removed and `installed` written only after the
# swap is on disk, as in install.sh.
#
# This script could not be run where it was written (no Windows there); install.sh is the tested twin.

[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][int]$AppPid,
    [Parameter(Mandatory = $true)][string]$InstallDir,
    [string]$StagedDir = '',
    [Parameter(Mandatory = $true)][string]$BackupDir,
    [Parameter(Mandatory = $true)][string]$LogFile,
    [Parameter(Mandatory = $true)][string]$ResultFile,
    [Parameter(Mandatory = $true)][string]$Version,
    [int]$WaitTimeout = 120,
    [int]$HealthTimeout = 0,
    [string]$HealthMarker = '',
    [ValidateSet('install', 'finish')][string]$Mode = 'install',
    [string]$Keep = '',
    [string]$Relaunch = ''
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

$InstallDir = [IO.Path]::GetFullPath($InstallDir).TrimEnd('\')
$parent = Split-Path -Parent $InstallDir
$name = Split-Path -Leaf $InstallDir
$incoming = Join-Path $parent ".$name.tufup-incoming"
$failedDir = Join-Path $parent ".$name.tufup-failed"
$readyDir = Join-Path $parent ".$name.tufup-ready"
$trashDir = Join-Path $parent ".$name.tufup-trash"
$stagedMoved = $false
$child = $null

$relaunchCommand = @()
if ($Relaunch -ne '') {
    $parsed = ConvertFrom-Json ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Relaunch)))
    # Piping a variable enumerates it, which Windows PowerShell 5.1 does not do with ConvertFrom-Json's own output.
    $relaunchCommand = @($parsed | ForEach-Object { [string]$_ })
}
$keepPatterns = @()
if ($Keep -ne '') {
    $parsedKeep = ConvertFrom-Json ([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Keep)))
    $keepPatterns = @($parsedKeep | ForEach-Object { [string]$_ })
}
if ($Mode -eq 'install' -and $StagedDir -eq '') {
    [Console]::Error.WriteLine('install.ps1: -StagedDir is required')
    exit 64
}
if ($HealthTimeout -gt 0 -and $relaunchCommand.Count -gt 0 -and $HealthMarker -eq '') {
    [Console]::Error.WriteLine('install.ps1: -HealthMarker is required with -HealthTimeout and -Relaunch')
    exit 64
}

# MoveFileEx from kernel32; where C# cannot be compiled (constrained language mode), [IO.Directory]::Move,
# which renames the same way but returns before the rename is flushed.
$writeThrough = $false
try {
    Add-Type -Namespace Tufup -Name Native -MemberDefinition @'
[DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
public static extern bool MoveFileEx(string existingFileName, string newFileName, int flags);
'@
    $writeThrough = $true
} catch { }
$MOVEFILE_REPLACE_EXISTING = 0x1
$MOVEFILE_WRITE_THROUGH = 0x8

# Renames a file or folder; on disk when it returns (where MoveFileEx is there). Throws on failure.
function Move-Durably([string]$from, [string]$to, [int]$flags = 0) {
    if (-not $writeThrough) {
        if (($flags -band $MOVEFILE_REPLACE_EXISTING) -and (Test-Path -LiteralPath $to -PathType Leaf)) { [IO.File]::Delete($to) }
        if (Test-Path -LiteralPath $from -PathType Container) { [IO.Directory]::Move($from, $to) } else { [IO.File]::Move($from, $to) }
        return
    }
    if (-not [Tufup.Native]::MoveFileEx($from, $to, $flags -bor $MOVEFILE_WRITE_THROUGH)) {
        throw (New-Object ComponentModel.Win32Exception ([Runtime.InteropServices.Marshal]::GetLastWin32Error()))
    }
}

# FlushFileBuffers on every file below a folder (a copy from another volume), before it is swapped in.
function Flush-Tree([string]$path) {
    Get-ChildItem -LiteralPath $path -Recurse -File -Force | ForEach-Object {
        try {
            $stream = [IO.File]::Open($_.FullName, 'Open', 'ReadWrite', 'ReadWrite')
            try { $stream.Flush($true) } finally { $stream.Close() }
        } catch { Write-Log "could not flush $($_.FullName): $_" }
    }
}

function Write-Log([string]$message) {
    $line = '{0} [{1}] {2}' -f (Get-Date).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), $PID, $message
    try { Add-Content -LiteralPath $LogFile -Value $line -Encoding UTF8 } catch { }
}

function Write-Result([string]$status, [string]$reason = '') {
    $line = "$status $Version"
    if ($reason -ne '') { $line = "$line $reason" }
    try {
        # Written aside, flushed and renamed so the app never reads half a line, even after a power cut.
        $bytes = [Text.Encoding]::ASCII.GetBytes("$line`r`n")
        $stream = [IO.File]::Open("$ResultFile.tmp", 'Create', 'Write', 'None')
        try { $stream.Write($bytes, 0, $bytes.Length); $stream.Flush($true) } finally { $stream.Close() }
        Move-Durably "$ResultFile.tmp" $ResultFile $MOVEFILE_REPLACE_EXISTING
    } catch { Write-Log "could not write the result file: $_" }
}

# Quotes one argument for the Windows command line (CommandLineToArgvW rules).
function ConvertTo-Argument([string]$arg) {
    if ($arg -ne '' -and $arg -notmatch '[\s"]') { return $arg }
    $escaped = [regex]::Replace($arg, '(\\*)"', '$1$1\"')
    $escaped = [regex]::Replace($escaped, '(\\+)$', '$1$1')
    return '"' + $escaped + '"'
}

function Start-App {
    if ($relaunchCommand.Count -eq 0) { return $null }
    $info = New-Object System.Diagnostics.ProcessStartInfo
    $info.FileName = [string]$relaunchCommand[0]
    $info.Arguments = (@($relaunchCommand | Select-Object -Skip 1) | ForEach-Object { ConvertTo-Argument ([string]$_) }) -join ' '
    $info.UseShellExecute = $false
    $info.WorkingDirectory = $InstallDir
    # ELECTRON_RUN_AS_NODE would start the app as plain Node.
    if ($info.EnvironmentVariables.ContainsKey('ELECTRON_RUN_AS_NODE')) { $info.EnvironmentVariables.Remove('ELECTRON_RUN_AS_NODE') }
    try {
        $process = [System.Diagnostics.Process]::Start($info)
        Write-Log "relaunched $($info.FileName) as pid $($process.Id)"
        return $process
    } catch {
        Write-Log "could not relaunch: $_"
        return $null
    }
}

function Stop-Here([string]$reason, [bool]$relaunchOld = $true) {
    Write-Log "failed: $reason; the previous install stays in place"
    Write-Result 'failed' $reason
    if ($relaunchOld) { [void](Start-App) }
    exit 1
}

# Renames with a few retries: antivirus scanners and the search indexer hold files open for moments.
function Move-Folder([string]$from, [string]$to) {
    for ($attempt = 1; ; $attempt++) {
        try {
            Move-Durably $from $to
            return $true
        } catch {
            if ($attempt -ge 10) { Write-Log "could not move $from to ${to}: $_"; return $false }
            Start-Sleep -Milliseconds 500
        }
    }
}

function Remove-Folder([string]$path) {
    if (Test-Path -LiteralPath $path) {
        try { Remove-Item -LiteralPath $path -Recurse -Force } catch { Write-Log "could not remove ${path}: $_" }
    }
}

function Undo-Incoming {
    if (-not (Test-Path -LiteralPath $incoming)) { return }
    if ($stagedMoved -and -not (Test-Path -LiteralPath $StagedDir)) {
        if (-not (Move-Folder $incoming $StagedDir)) { Remove-Folder $incoming }
    } else {
        Remove-Folder $incoming
    }
}

# Puts the backup back in the install folder's place; the new version goes aside and is deleted.
function Restore-Backup {
    if (-not (Test-Path -LiteralPath $BackupDir)) { return $false }
    if (Test-Path -LiteralPath $InstallDir) {
        Remove-Folder $failedDir
        if (-not (Move-Folder $InstallDir $failedDir)) { return $false }
    }
    if (Move-Folder $BackupDir $InstallDir) {
        Remove-Folder $failedDir
        return $true
    }
    if (Test-Path -LiteralPath $failedDir) { [void](Move-Folder $failedDir $InstallDir) }
    return $false
}

# Every process started from the install folder (the app's GPU, renderer, utility and crashpad helpers
# run the same exe) must be gone, or its files stay locked.
function Get-InstallProcesses {
    $prefix = $InstallDir + '\'
    @(Get-Process -ErrorAction SilentlyContinue | Where-Object {
            $path = $null
            try { $path = $_.Path } catch { }
            $path -and $path.StartsWith($prefix, [StringComparison]::OrdinalIgnoreCase)
        })
}

# Copies the files matching -Keep from the install folder into the new version (see above), flushed,
# before the swap publishes them.
function Copy-Kept([string]$into) {
    if ($keepPatterns.Count -eq 0) { return }
    $prefix = $InstallDir.Length + 1
    foreach ($file in @(Get-ChildItem -LiteralPath $InstallDir -Recurse -File -Force -ErrorAction SilentlyContinue)) {
        $rel = $file.FullName.Substring($prefix).Replace('\', '/')
        if (-not ($keepPatterns | Where-Object { $rel -like $_ })) { continue }
        $target = Join-Path $into ($rel.Replace('/', '\'))
        # The new version has this path (a file it replaces, or a folder): it wins.
        if (Test-Path -LiteralPath $target) { Write-Log "not carrying over ${rel}: the new version has it"; continue }
        try {
            [void](New-Item -ItemType Directory -Force -Path (Split-Path -Parent $target))
            Copy-Item -LiteralPath $file.FullName -Destination $target
            $stream = [IO.File]::Open($target, 'Open', 'ReadWrite', 'ReadWrite')
            try { $stream.Flush($true) } finally { $stream.Close() }
            Write-Log "carried over $rel"
        } catch { Write-Log "could not carry over ${rel}: $_" }
    }
}

# The previous version is no longer needed: renamed to the trash name first (a backup is always complete;
# a kill during the deletion leaves only trash), deleted, then the result written.
function Retire-Backup {
    Remove-Folder $trashDir
    if ((Test-Path -LiteralPath $BackupDir) -and -not (Move-Folder $BackupDir $trashDir)) { Remove-Folder $BackupDir }
    Remove-Folder $trashDir
    Remove-Folder $failedDir
    Remove-Folder $incoming
    Remove-Folder $readyDir
    Write-Result 'installed'
}

# Stops the new version and its helpers, puts the previous install back, says so and relaunches it.
function Invoke-Rollback([string]$reason, $process) {
    Write-Log "rolling back ${Version}: $reason"
    # Said first: a run killed from here on was rolling back, and the next launch must not install this
    # version again as if it had never been tried.
    Write-Result 'rolling-back' $reason
    if ($null -ne $process -and -not $process.HasExited) {
        try { Stop-Process -Id $process.Id -Force } catch { }
    }
    # Its helpers must be gone too before the folder can move.
    $until = (Get-Date).AddSeconds(10)
    while ((Get-InstallProcesses).Count -gt 0 -and (Get-Date) -lt $until) {
        Get-InstallProcesses | ForEach-Object { try { Stop-Process -Id $_.Id -Force } catch { } }
        Start-Sleep -Milliseconds 200
    }
    if (Restore-Backup) { Write-Log 'restored the previous install' } else { Write-Log "could not restore the previous install from $BackupDir" }
    Write-Result 'rolled-back' $reason
    [void](Start-App)
    exit 1
}

# The health check: waits for the marker while $process runs, up to the health timeout; rolls back (and
# exits) when it does not come.
function Wait-Healthy($process) {
    $reason = ''
    $until = (Get-Date).AddSeconds($HealthTimeout)
    while (-not (Test-Path -LiteralPath $HealthMarker)) {
        if ($null -eq $process -or $process.HasExited) { $reason = 'exited-before-healthy'; break }
        if ((Get-Date) -gt $until) { $reason = 'health-timeout'; break }
        Start-Sleep -Milliseconds 200
    }
    # The app may mark itself healthy and exit right away: check the marker once more.
    if (-not (Test-Path -LiteralPath $HealthMarker)) { Invoke-Rollback $reason $process }
    Write-Log "$Version reported a healthy start"
}

function Test-AppRunning {
    if (Get-Process -Id $AppPid -ErrorAction SilentlyContinue) { return $true }
    return (Get-InstallProcesses).Count -gt 0
}

if ($Mode -eq 'finish') {
    Write-Log "finishing the interrupted install of $Version in $InstallDir (pid $AppPid runs it)"
    if (-not (Test-Path -LiteralPath $InstallDir -PathType Container)) { Stop-Here 'install-missing' $false }
    if (-not (Test-Path -LiteralPath $BackupDir) -and (Test-Path -LiteralPath $incoming)) {
        if (-not (Move-Folder $incoming $BackupDir)) { Stop-Here 'install-not-writable' $false }
    }
    if ((Test-Path -LiteralPath $BackupDir) -and $HealthTimeout -gt 0 -and $HealthMarker -ne '') {
        # The running new version is the one whose start is checked: a rollback stops it first.
        Wait-Healthy (Get-Process -Id $AppPid -ErrorAction SilentlyContinue)
    }
    Retire-Backup
    Write-Log "installed $Version"
    exit 0
}

Write-Log "installing $Version into $InstallDir (waiting for pid $AppPid)"

$deadline = (Get-Date).AddSeconds($WaitTimeout)
while (Test-AppRunning) {
    if ((Get-Date) -gt $deadline) { Stop-Here 'app-still-running' $false }
    Start-Sleep -Milliseconds 200
}
Write-Log "pid $AppPid and the processes of the install folder have exited"

# An earlier attempt killed between its two renames left no install folder: put the backup back first,
# and give back the staged folder that attempt had taken (at the ready or incoming name), so this run
# installs it.
if (-not (Test-Path -LiteralPath $InstallDir) -and (Test-Path -LiteralPath $BackupDir)) {
    Write-Log 'restoring the install folder from a backup left by an interrupted attempt'
    if (-not (Move-Folder $BackupDir $InstallDir)) { Stop-Here 'install-missing' }
    foreach ($taken in @($readyDir, $incoming)) {
        if (-not (Test-Path -LiteralPath $StagedDir) -and (Test-Path -LiteralPath $taken)) {
            [void](New-Item -ItemType Directory -Force -Path (Split-Path -Parent $StagedDir))
            if (Move-Folder $taken $StagedDir) { Write-Log "took the staged folder back from $taken" }
        }
    }
}

if (-not (Test-Path -LiteralPath $StagedDir -PathType Container)) { Stop-Here 'staged-missing' }
if (-not (Get-ChildItem -LiteralPath $StagedDir -Force | Select-Object -First 1)) { Stop-Here 'staged-empty' }
if (-not (Test-Path -LiteralPath $InstallDir -PathType Container)) { Stop-Here 'install-missing' }

# Leftovers of an earlier attempt that was killed: the install folder in place is the one that runs.
Remove-Folder $incoming
Remove-Folder $readyDir
Remove-Folder $failedDir
Remove-Folder $trashDir
if (Test-Path -LiteralPath $BackupDir) {
    Write-Log 'removing a stale backup'
    Remove-Folder $BackupDir
    if (Test-Path -LiteralPath $BackupDir) { Stop-Here 'install-not-writable' }
}

# Staging: a rename on the same volume, a copy across volumes (a rename there fails).
$sameVolume = [IO.Path]::GetPathRoot([IO.Path]::GetFullPath($StagedDir)) -eq [IO.Path]::GetPathRoot($InstallDir)
if ($sameVolume -and (Move-Folder $StagedDir $incoming)) {
    $stagedMoved = $true
} else {
    Write-Log 'copying the staged folder'
    & robocopy.exe $StagedDir $incoming /E /SL /COPY:DAT /DCOPY:DAT /R:2 /W:1 /NFL /NDL /NJH /NJS /NP | Out-Null
    # robocopy exit codes below 8 mean success.
    if ($LASTEXITCODE -ge 8) {
        Remove-Folder $incoming
        Stop-Here 'install-not-writable'
    }
    # robocopy leaves the bytes in the cache; they must be on disk before the swap publishes them.
    Flush-Tree $incoming
}

# A scanner reading the fresh files can hold the folder for moments: renaming it once here waits that out
# (Move-Folder retries) while the old install is still in place, so the two renames below rarely retry.
if (-not (Move-Folder $incoming $readyDir)) {
    Undo-Incoming
    Stop-Here 'install-not-writable'
}
$incoming = $readyDir

Copy-Kept $incoming

# The two renames below are the only moment the install folder is missing; nothing runs between them.
if (-not (Move-Folder $InstallDir $BackupDir)) {
    Undo-Incoming
    Stop-Here 'install-not-writable'
}
if (-not (Move-Folder $incoming $InstallDir)) {
    [void](Move-Folder $BackupDir $InstallDir)
    Undo-Incoming
    Stop-Here 'swap-failed'
}
Write-Log "swapped in $Version; the previous install is at $BackupDir"

if ($relaunchCommand.Count -gt 0 -and $HealthTimeout -gt 0) {
    if ($HealthMarker -ne '') { Remove-Item -LiteralPath $HealthMarker -Force -ErrorAction SilentlyContinue }
    Wait-Healthy (Start-App)
} else {
    [void](Start-App)
}

if (-not $stagedMoved) { Remove-Folder $StagedDir }
Retire-Backup
Write-Log "installed $Version"
exit 0
