import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, renameSync, type WriteStream } from 'node:fs';
import {
  chmod,
  chown,
  lchown,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants } from 'node:os';
import path from 'node:path';
import { SpawnError } from '../../core/errors.ts';
import type { Log } from '../../core/log.ts';
import type { Compute, ComputeStatus, ComputeTask, LaunchSpec } from '../../core/ports.ts';
import { SHARED_FOLDER, SHARED_WRITE_FOLDER } from '../../core/shared-data.ts';
import {
  type TaskStateChangeEvent,
  type TaskStateDetail,
  taskStatusFromDetail,
} from '../../core/task-event.ts';
import { JsonLogger } from '../log/json-logger.ts';
import type { JupyterCommand } from './jupyter-command.ts';
import { type LabAccount, type LabAccounts, labAccountsForThisProcess } from './lab-accounts.ts';

export interface ProcessComputeOptions {
  jupyter: JupyterCommand;
  /** containers/lab: holds the hubless_lab package (added to PYTHONPATH) and jupyter_server_config.py. */
  labPackageDir: string;
  /** Pid files, logs and each server's JUPYTER_RUNTIME_DIR. */
  runDir: string;
  /** Receives the same "ECS Task State Change" shape ECS sends through EventBridge. */
  onEvent: (event: TaskStateChangeEvent) => void | Promise<void>;
  host?: '127.0.0.1';
  /** How long a server may take to answer <baseUrl>api before it counts as failed to start. */
  startTimeoutMs?: number;
  /** How long stop waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
  /**
   * Who each user's labs run as. Default: a locked system account per user when this
   * process is root (Linux), else the current user. A lab never runs as root.
   */
  accounts?: LabAccounts;
  /**
   * Where each server's JUPYTER_RUNTIME_DIR (kernel connection files) is made. Default:
   * `runDir`. With per-user accounts it must be a directory the labs can pass through
   * (runDir sits in the data dir, which they cannot enter).
   */
  labRuntimeRoot?: string;
  /** Where a failed event delivery is logged. Default: JSON lines. */
  log?: Log;
  /**
   * The class's shared data folder (core/shared-data.ts): every lab gets `~/shared`, a
   * course admin's also `~/shared-write`, both links to it. Run as root, the folder belongs
   * to root and the group `hubless_shared` (mode 2775) and only course admins' labs run
   * with that group, so students read it and cannot write it. Unset: no shared folder.
   */
  sharedDir?: string;
}

const HANDLE_PREFIX = 'local-task/';
const STDERR_LINES_KEPT = 40;
/** A lab's log rotates at this size into <id>.log.1: at most twice this on disk per lab. */
const LOG_MAX_BYTES = 1024 * 1024;
/** Logs of labs that crashed or failed to start, kept for diagnosis; older ones are removed. */
const FAILED_LOGS_KEPT = 20;
const REASON_MAX_CHARS = 800;
/**
 * Readiness polling backs off from 20 ms to 250 ms (like JupyterHub's wait_up): a lab
 * usually answers within a second, and a fixed 250 ms step wasted up to that much per start.
 */
/** The only variables a lab inherits from the process that runs local mode. */
const INHERITED_ENV =
  /^(PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TERM|TMPDIR|USER|LOGNAME|SHELL|PYENV_[A-Z_]+|VIRTUAL_ENV|CONDA_[A-Z_]+)$/;

const READY_POLL_FIRST_MS = 20;
const READY_POLL_MAX_MS = 250;

interface Task {
  handle: string;
  id: string;
  sessionId: string;
  port: number;
  baseUrl: string;
  child: ChildProcess;
  status: ComputeStatus;
  version: number;
  stopRequested?: string;
  timedOut: boolean;
  spawnError?: Error;
  stderrTail: string[];
  log: WriteStream;
  logBytes: number;
  exited: Promise<void>;
  events: Promise<void>;
}

/** The text in a server's command line that marks it as this task's (see reapOrphans). */
function markerFor(id: string): string {
  return `hubless-task=${id}`;
}

/**
 * Compute for local mode: one Jupyter server process per session, listening on a free
 * port on 127.0.0.1, with the lab's owner check loaded from `labPackageDir`.
 *
 * Keeps the Compute contract the way ECS does: `start` returns a handle at once and the
 * server's progress arrives as task state events (PENDING, RUNNING once `<baseUrl>api`
 * answers, STOPPED with a stop code), which `poll` also reports from memory. A handle this
 * process never started (say, from before a restart) is `exited` with code 'lost' at once:
 * unlike ECS there is no eventual consistency to wait out. Run `reapOrphans(runDir)` at
 * start-up so servers left by a crashed control plane do not keep running unseen.
 */
export class ProcessCompute implements Compute {
  private readonly options: Required<Omit<ProcessComputeOptions, 'sharedDir'>>;
  private readonly sharedDir: string | undefined;
  private readonly tasks = new Map<string, Task>();

  constructor(options: ProcessComputeOptions) {
    this.options = {
      host: '127.0.0.1',
      startTimeoutMs: 60_000,
      stopGraceMs: 10_000,
      labRuntimeRoot: options.runDir,
      log: new JsonLogger().log,
      ...options,
      accounts: options.accounts ?? labAccountsForThisProcess(),
    };
    this.sharedDir = options.sharedDir;
  }

  /** Whether each user's labs run as an OS account of their own (hubless runs as root). */
  get isolated(): boolean {
    return this.options.accounts.isolated;
  }

  async start(spec: LaunchSpec): Promise<string> {
    const id = randomUUID();
    const handle = `${HANDLE_PREFIX}${id}`;
    const { runDir, host } = this.options;
    const runtimeDir = path.join(this.options.labRuntimeRoot, id);
    let port: number;
    let child: ChildProcess;
    try {
      const account = await this.prepare(spec, runtimeDir);
      port = await freePort(host);
      child = spawn(this.options.jupyter.command, this.argsFor(spec, id, port), {
        env: this.envFor(spec, runtimeDir, account),
        stdio: ['ignore', 'pipe', 'pipe'],
        // The lab's own uid and gid (libuv also drops root's supplementary groups).
        ...(this.isolated ? { uid: account.uid, gid: account.gid } : {}),
        // Its own process group: a Ctrl+C in the terminal must reach only the control plane,
        // which stops each lab itself and records why (else every lab died "crashed" or "lost").
        detached: true,
      });
    } catch (error) {
      throw new SpawnError(`The server could not be started: ${(error as Error).message}`, { cause: error });
    }
    const log = openLog(runDir, id);
    const task: Task = {
      handle,
      id,
      sessionId: spec.sessionId,
      port,
      baseUrl: spec.baseUrl,
      child,
      status: { state: 'pending', message: 'The server process is starting.' },
      version: 0,
      timedOut: false,
      stderrTail: [],
      log,
      logBytes: 0,
      exited: Promise.resolve(),
      events: Promise.resolve(),
    };
    task.exited = new Promise<void>((resolve) => {
      child.once('close', (code, signal) => {
        this.onExit(task, code, signal);
        resolve();
      });
    });
    child.once('error', (error) => {
      // spawn failures (ENOENT, EACCES) arrive here, and 'close' follows.
      task.spawnError = error;
    });
    child.stdout?.on('data', (chunk: Buffer) => this.writeLog(task, chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.writeLog(task, chunk);
      const lines = chunk
        .toString('utf8')
        .split('\n')
        .filter((line) => line.trim() !== '');
      task.stderrTail.push(...lines);
      task.stderrTail.splice(0, Math.max(0, task.stderrTail.length - STDERR_LINES_KEPT));
    });
    this.tasks.set(handle, task);
    if (child.pid !== undefined) {
      await writeFile(
        path.join(runDir, `${id}.json`),
        JSON.stringify({
          pid: child.pid,
          handle,
          marker: markerFor(id),
          sessionId: spec.sessionId,
          port,
          runtimeDir,
        }),
        { mode: 0o600 },
      );
    }
    this.emit(task, { lastStatus: 'PENDING', desiredStatus: 'RUNNING' });
    void this.watchUntilReady(task);
    return handle;
  }

  async poll(handle: string): Promise<ComputeStatus> {
    const task = this.tasks.get(handle);
    if (!task) {
      return {
        state: 'exited',
        code: 'lost',
        reason:
          'This machine runs no such server: it was started before the control plane restarted, or never here.',
      };
    }
    return task.status;
  }

  async stop(handle: string, reason: string): Promise<void> {
    const task = this.tasks.get(handle);
    if (!task || task.status.state === 'exited') return;
    if (task.stopRequested === undefined && !task.timedOut) task.stopRequested = reason;
    await this.terminate(task);
  }

  async list(): Promise<ComputeTask[]> {
    return [...this.tasks.values()].map((task) => ({
      handle: task.handle,
      sessionId: task.sessionId,
      alive: task.status.state !== 'exited',
    }));
  }

  /** The pid of a handle's server, while it runs (for tests and diagnostics). */
  pidOf(handle: string): number | undefined {
    const task = this.tasks.get(handle);
    return task && task.status.state !== 'exited' ? task.child.pid : undefined;
  }

  /**
   * Whether `target` is where a live server this instance started for `sessionId` (and
   * `handle`, when given) listens. The local router restores a route only to such a
   * server: a session record claiming any other address is not proof of anything, since
   * whoever can write the store could point a user's traffic at their own server.
   */
  runs(sessionId: string, target: { host: string; port: number }, handle?: string): boolean {
    return [...this.tasks.values()].some(
      (task) =>
        task.sessionId === sessionId &&
        (handle === undefined || task.handle === handle) &&
        task.status.state === 'running' &&
        task.port === target.port &&
        target.host === this.options.host,
    );
  }

  /** Stops every server this instance started (local mode's shutdown). */
  async close(reason = 'The local control plane is shutting down.'): Promise<void> {
    await Promise.all([...this.tasks.keys()].map((handle) => this.stop(handle, reason)));
    await Promise.all([...this.tasks.values()].map((task) => task.events));
  }

  /** Resolves once every event emitted so far for `handle` has been delivered. */
  async delivered(handle: string): Promise<void> {
    await this.tasks.get(handle)?.events;
  }

  /** Appends to the lab's log, rotating it at LOG_MAX_BYTES so a chatty lab cannot fill the disk. */
  private writeLog(task: Task, chunk: Buffer): void {
    if (task.logBytes + chunk.length > LOG_MAX_BYTES) {
      const file = path.join(this.options.runDir, `${task.id}.log`);
      task.log.end();
      try {
        renameSync(file, `${file}.1`);
      } catch {
        // Removed meanwhile: the new file starts the log again.
      }
      task.log = openLog(this.options.runDir, task.id);
      task.logBytes = 0;
    }
    task.logBytes += chunk.length;
    task.log.write(chunk);
  }

  private argsFor(spec: LaunchSpec, id: string, port: number): string[] {
    const { jupyter, host } = this.options;
    const major = Number.parseInt(jupyter.version, 10);
    // The owner check also sits in jupyter_server_config.py, but flags win over every
    // config file, including one a user could write into their own ~/.jupyter.
    const ownerCheck =
      major >= 2
        ? '--ServerApp.identity_provider_class=hubless_lab.jupyter2.OwnerIdentityProvider'
        : '--ServerApp.login_handler_class=hubless_lab.jupyter1.OwnerLoginHandler';
    const args = [
      ...jupyter.args,
      ownerCheck,
      `--ServerApp.ip=${host}`,
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      `--ServerApp.base_url=${spec.baseUrl}`,
      `--ServerApp.root_dir=${spec.home}`,
      '--ServerApp.open_browser=False',
      // Harmless display setting that carries the task's marker into /proc/<pid>/cmdline.
      `--ServerApp.custom_display_url=http://${host}:${port}${spec.baseUrl}#${markerFor(id)}`,
    ];
    // Never --ServerApp.allow_root: as root, labs run as their users' own accounts, and
    // Jupyter's refusal to run as root is one more guard should that ever go wrong.
    return args;
  }

  /**
   * The account the lab runs as, its home owned by that account (0700), and a runtime
   * dir only it can use. With per-user accounts, refuses a home the account could not
   * reach rather than starting a lab that fails with a bare "Permission denied".
   */
  private async prepare(spec: LaunchSpec, runtimeDir: string): Promise<LabAccount> {
    const { accounts, labRuntimeRoot } = this.options;
    const account = await accounts.ensure(spec.user, spec.home);
    await mkdir(labRuntimeRoot, { recursive: true, mode: accounts.isolated ? 0o711 : 0o700 });
    await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
    if (accounts.isolated) {
      await assertPassable(spec.home, account.name);
      await assertPassable(runtimeDir, account.name);
      await chmod(spec.home, 0o700);
      if ((await stat(spec.home)).uid !== account.uid) await chownTree(spec.home, account);
      await chown(runtimeDir, account.uid, account.gid);
    }
    if (this.sharedDir && spec.sharedData) return this.shareData(this.sharedDir, spec, account);
    return account;
  }

  /**
   * Links the shared folder into the home and gives the account the lab runs as: with the
   * shared folder's group for a course admin (who may write it), its own group otherwise.
   * The links are made as root in a home the user owns, so nothing there is followed or
   * replaced: an entry the user made with either name is left as it is.
   */
  private async shareData(dir: string, spec: LaunchSpec, account: LabAccount): Promise<LabAccount> {
    const { accounts } = this.options;
    const group = await accounts.sharedGroup();
    await mkdir(dir, { recursive: true, mode: 0o755 });
    if (accounts.isolated) {
      await chown(dir, 0, group);
      // setgid: files an admin adds keep the group, so the next admin can manage them too.
      await chmod(dir, 0o2775);
    }
    await linkInHome(spec.home, SHARED_FOLDER, dir, account, accounts.isolated);
    if (spec.sharedData !== 'write') {
      // No longer a course admin: take back the writable way in (only if it is our link).
      await unlinkIfPointsTo(path.join(spec.home, SHARED_WRITE_FOLDER), dir);
      return account;
    }
    await linkInHome(spec.home, SHARED_WRITE_FOLDER, dir, account, accounts.isolated);
    return { ...account, gid: group };
  }

  private envFor(spec: LaunchSpec, runtimeDir: string, account: LabAccount): NodeJS.ProcessEnv {
    const { labPackageDir } = this.options;
    const joined = (extra: string, existing: string | undefined) =>
      existing ? `${extra}${path.delimiter}${existing}` : extra;
    // A lab runs its user's code: it gets what a shell needs to find programs and speak the
    // user's language, never the operator's secrets (cloud credentials, tokens) nor the
    // control plane's HUBLESS_* settings; spec.env alone names its owner.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => INHERITED_ENV.test(name)),
    );
    const who = this.isolated
      ? {
          USER: account.name,
          LOGNAME: account.name,
          // The account has no login shell; Jupyter's terminals still need one to run.
          SHELL: ['/bin/bash', '/bin/sh'].find((shell) => existsSync(shell)) ?? '/bin/sh',
        }
      : {};
    return {
      ...inherited,
      ...who,
      ...spec.env,
      HOME: spec.home,
      HUBLESS_BASE_URL: spec.baseUrl,
      PYTHONPATH: joined(labPackageDir, process.env.PYTHONPATH),
      // jupyter_server_config.py from containers/lab, the same file the image uses.
      JUPYTER_CONFIG_PATH: joined(labPackageDir, process.env.JUPYTER_CONFIG_PATH),
      // Connection files and server info of each server apart, and cleaned up with it.
      JUPYTER_RUNTIME_DIR: runtimeDir,
      // A config file that fails to load must stop the server, not start it half-configured.
      TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR: '1',
    };
  }

  private async watchUntilReady(task: Task): Promise<void> {
    const url = `http://${this.options.host}:${task.port}${task.baseUrl}api`;
    const deadline = Date.now() + this.options.startTimeoutMs;
    let wait = READY_POLL_FIRST_MS;
    while (task.status.state === 'pending' && task.stopRequested === undefined) {
      if (Date.now() > deadline) {
        task.timedOut = true;
        await this.terminate(task);
        return;
      }
      if (await answers(url)) {
        if (task.status.state !== 'pending' || task.stopRequested !== undefined) return;
        this.emit(task, { lastStatus: 'RUNNING', desiredStatus: 'RUNNING' });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 1.5, READY_POLL_MAX_MS);
    }
  }

  private async terminate(task: Task): Promise<void> {
    const { child } = task;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, this.options.stopGraceMs);
      await task.exited;
      clearTimeout(timer);
    }
    await task.exited;
  }

  private onExit(task: Task, code: number | null, signal: NodeJS.Signals | null): void {
    task.log.end();
    const exitCode = code ?? (signal ? 128 + signalNumber(signal) : undefined);
    const lastLines = meaningfulLines(task.stderrTail);
    const outsideSignal = signal ?? signalFromLog(task.stderrTail);
    let stop: Pick<TaskStateDetail, 'stopCode' | 'stoppedReason'>;
    if (task.spawnError) {
      stop = {
        stopCode: 'TaskFailedToStart',
        stoppedReason: `${this.options.jupyter.command} could not be run: ${task.spawnError.message}`,
      };
    } else if (task.timedOut) {
      stop = {
        stopCode: 'TaskFailedToStart',
        stoppedReason:
          `it did not answer at ${task.baseUrl}api within ${this.options.startTimeoutMs / 1000} s ` +
          '(likely causes: a slow first start on a busy machine, a Jupyter extension failing to load, ' +
          `or a port conflict; see ${path.join(this.options.runDir, `${task.id}.log`)})` +
          (lastLines ? `. Last output: ${lastLines}` : ''),
      };
    } else if (task.stopRequested !== undefined) {
      stop = { stopCode: 'UserInitiated', stoppedReason: task.stopRequested };
    } else if (outsideSignal) {
      // Jupyter exits 0 on SIGTERM, which would read as "shut itself down" (an idle cull):
      // a signal hubless did not send is a crash, and the record says so.
      stop = {
        stopCode: 'EssentialContainerExited',
        stoppedReason:
          `it was stopped by ${outsideSignal}, which hubless did not send ` +
          '(an administrator, the out-of-memory killer, or a system shutdown)',
      };
    } else {
      stop = {
        stopCode: 'EssentialContainerExited',
        stoppedReason: lastLines || `exited with ${signal ?? `code ${code}`}`,
      };
    }
    const exitStatus =
      outsideSignal && task.stopRequested === undefined && !task.timedOut
        ? 128 + signalNumber(outsideSignal)
        : exitCode;
    this.emit(task, { lastStatus: 'STOPPED', desiredStatus: 'STOPPED', ...stop }, exitStatus);
    const { runDir } = this.options;
    void rm(path.join(runDir, `${task.id}.json`), { force: true });
    void rm(path.join(this.options.labRuntimeRoot, task.id), { recursive: true, force: true });
    // A lab that ended as asked leaves nothing behind; a crash keeps its log for diagnosis.
    if (stop.stopCode === 'UserInitiated' || exitStatus === 0) void removeLogs(runDir, task.id);
    else void pruneLogs(runDir, FAILED_LOGS_KEPT);
  }

  /** Updates the task's status from the event it emits, so poll and events never disagree. */
  private emit(
    task: Task,
    change: Pick<TaskStateDetail, 'lastStatus' | 'desiredStatus' | 'stopCode' | 'stoppedReason'>,
    exitCode?: number,
  ): void {
    task.version += 1;
    const { host } = this.options;
    const time = new Date().toISOString();
    const event: TaskStateChangeEvent = {
      'detail-type': 'ECS Task State Change',
      source: 'hubless.local',
      time,
      detail: {
        taskArn: task.handle,
        clusterArn: 'local',
        startedBy: task.sessionId,
        version: task.version,
        updatedAt: time,
        ...change,
        containers: [
          {
            name: 'lab',
            lastStatus: change.lastStatus,
            ...(exitCode === undefined ? {} : { exitCode }),
            ...(change.stoppedReason ? { reason: change.stoppedReason } : {}),
            networkBindings: [{ bindIP: host, containerPort: task.port, hostPort: task.port }],
          },
        ],
        attachments: [
          {
            type: 'ElasticNetworkInterface',
            status: 'ATTACHED',
            details: [{ name: 'privateIPv4Address', value: host }],
          },
        ],
      },
    };
    task.status = taskStatusFromDetail(event.detail);
    // Delivered one after another, in order, without making start or stop wait for the handler.
    task.events = task.events.then(async () => {
      try {
        await this.options.onEvent(event);
      } catch (error) {
        this.options.log('error', 'task event handler failed', {
          taskArn: task.handle,
          lastStatus: change.lastStatus,
          error: String(error),
        });
      }
    });
  }
}

/**
 * After a crash of the local control plane: stops servers it left running and removes
 * their records. A pid is signalled only while /proc/<pid>/cmdline still carries the
 * task's marker, so a pid the system has since reused for something else is never touched.
 * Returns the handles it stopped.
 */
export async function reapOrphans(runDir: string, options: { graceMs?: number } = {}): Promise<string[]> {
  const graceMs = options.graceMs ?? 5_000;
  let entries: string[];
  try {
    entries = await readdir(runDir);
  } catch {
    return [];
  }
  const reaped: string[] = [];
  for (const entry of entries.filter((name) => name.endsWith('.json'))) {
    const file = path.join(runDir, entry);
    let record: { pid?: unknown; handle?: unknown; marker?: unknown; runtimeDir?: unknown };
    try {
      record = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      await rm(file, { force: true });
      continue;
    }
    const { pid, handle, marker } = record;
    if (typeof pid === 'number' && typeof marker === 'string' && (await isOurs(pid, marker))) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && (await isOurs(pid, marker)))
        await new Promise((resolve) => setTimeout(resolve, 100));
      if (await isOurs(pid, marker)) process.kill(pid, 'SIGKILL');
      reaped.push(typeof handle === 'string' ? handle : String(pid));
    }
    await rm(file, { force: true });
    await rm(path.join(runDir, entry.slice(0, -'.json'.length)), { recursive: true, force: true });
    if (typeof record.runtimeDir === 'string' && path.basename(record.runtimeDir) === entry.slice(0, -5))
      await rm(record.runtimeDir, { recursive: true, force: true });
    await removeLogs(runDir, entry.slice(0, -'.json'.length));
  }
  await pruneLogs(runDir, FAILED_LOGS_KEPT);
  return reaped;
}

/**
 * Gives a home that is new to its account (made by root, or kept from before hubless ran
 * as root) to that account, contents included, so the user can edit their own files. Only
 * done while the account has never had the home, so it cannot have planted links in it;
 * links are changed themselves (lchown), never followed.
 */
async function chownTree(dir: string, account: LabAccount): Promise<void> {
  await lchown(dir, account.uid, account.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(file, account);
    else await lchown(file, account.uid, account.gid);
  }
}

async function linkInHome(
  home: string,
  name: string,
  target: string,
  account: LabAccount,
  isolated: boolean,
): Promise<void> {
  const link = path.join(home, name);
  try {
    await symlink(target, link);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  if (isolated) await lchown(link, account.uid, account.gid);
}

async function unlinkIfPointsTo(link: string, target: string): Promise<void> {
  const points = await readlink(link).catch(() => undefined);
  if (points === target) await unlink(link);
}

/** Throws when some directory above `target` is closed to other users (its account could not reach it). */
async function assertPassable(target: string, accountName: string): Promise<void> {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new SpawnError(
        `The lab account ${accountName} cannot reach ${target}: ${dir} is mode ${(mode & 0o777).toString(8)} ` +
          '(others need at least execute, o+x). Move the homes (HUBLESS_HOMES_DIR) out of it, or `chmod o+x` it.',
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

function openLog(runDir: string, id: string): WriteStream {
  return createWriteStream(path.join(runDir, `${id}.log`), { flags: 'a', mode: 0o600 });
}

async function removeLogs(runDir: string, id: string): Promise<void> {
  await rm(path.join(runDir, `${id}.log`), { force: true });
  await rm(path.join(runDir, `${id}.log.1`), { force: true });
}

/** Keeps the `keep` most recent labs' logs in runDir and removes the rest. */
async function pruneLogs(runDir: string, keep: number): Promise<void> {
  const entries = await readdir(runDir).catch(() => [] as string[]);
  // A lab still running keeps its record (<id>.json) and its log.
  const running = new Set(entries.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)));
  const names = entries.filter((n) => n.endsWith('.log') && !running.has(n.slice(0, -'.log'.length)));
  if (names.length <= keep) return;
  const dated = await Promise.all(
    names.map(async (name) => ({
      name,
      mtime: (await stat(path.join(runDir, name)).catch(() => undefined))?.mtimeMs ?? 0,
    })),
  );
  dated.sort((a, b) => b.mtime - a.mtime);
  for (const { name } of dated.slice(keep)) await removeLogs(runDir, name.slice(0, -'.log'.length));
}

async function isOurs(pid: number, marker: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    // A zombie has an empty cmdline: it is already dead.
    return cmdline.split('\0').some((arg) => arg.includes(marker));
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function freePort(host: string): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * What a person should read of a lab's last output: its warnings and errors, not the INFO
 * lines (which carry internal ports and URLs), with loopback addresses left out.
 */
export function meaningfulLines(lines: readonly string[]): string {
  const notInfo = lines.filter((line) => !/^\[[ID] /.test(line));
  const errors = notInfo.filter((line) => /^\[[EC] |Error|Exception|Traceback/.test(line));
  const chosen = (errors.length ? errors : notInfo).slice(-3);
  return chosen
    .join('\n')
    .replace(/https?:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\S*/g, '(the lab)')
    .slice(-REASON_MAX_CHARS);
}

/** Jupyter logs "received signal 15, stopping" and then exits 0. */
function signalFromLog(lines: readonly string[]): NodeJS.Signals | undefined {
  for (const line of lines) {
    const number = /received signal (\d+), stopping/.exec(line)?.[1];
    if (number === undefined) continue;
    const name = Object.entries(constants.signals).find(([, n]) => n === Number(number))?.[0];
    return (name ?? `signal ${number}`) as NodeJS.Signals;
  }
  return undefined;
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}
