import type { Settings } from './config.ts';
import type { LabTokens } from './lab-tokens.ts';
import type { Log } from './log.ts';
import type {
  Clock,
  Compute,
  Directory,
  EventSink,
  Homes,
  LaunchQueue,
  Router,
  SessionStore,
} from './ports.ts';
import type { Session } from './session.ts';

/**
 * Everything a use case may touch, built once per process by functions/wiring for one
 * column of docs/architecture.md section 1 (AWS or local). Use cases never know which.
 */
export interface CoreDeps {
  store: SessionStore;
  compute: Compute;
  router: Router;
  homes: Homes;
  /** Where a start leaves its launch (see LaunchQueue); a launcher runs launchSession. */
  launches: LaunchQueue;
  directory: Directory;
  events: EventSink;
  clock: Clock;
  settings: Pick<Settings, 'idleTimeoutSeconds' | 'maxAgeSeconds' | 'startTimeoutSeconds' | 'profiles'> &
    Partial<Pick<Settings, 'namedServerLimit'>>;
  /** The environment a lab needs to verify identity headers, besides owner/base URL/token. */
  labEnvironment: (session: Session) => Record<string, string>;
  /** The token the control plane shows a lab (derived per session, never stored). */
  labTokens: LabTokens;
  /** Random, URL-safe identifiers (session nonces). Injected so tests are repeatable. */
  randomId: (bytes?: number) => string;
  log?: Log;
}
