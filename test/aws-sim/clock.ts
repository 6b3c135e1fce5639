/**
 * Moves this process's clock forward, for "it is now noon": every `new Date()` and
 * `Date.now()` (the handlers' clock, the ALB's token expiry, the labs' activity times)
 * reads the shifted time, so the culler sees labs idle for hours without the run
 * waiting for them. Timers are untouched. Dates made before the shift stay Dates
 * (`instanceof Date` holds for both kinds).
 */
const RealDate = Date;
let offsetMs = 0;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  class ShiftedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(RealDate.now() + offsetMs);
      else super(...(args as [string]));
    }
    static override now(): number {
      return RealDate.now() + offsetMs;
    }
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof RealDate;
    }
  }
  globalThis.Date = ShiftedDate as DateConstructor;
}

export function travel(ms: number): void {
  install();
  offsetMs += ms;
}

export function resetClock(): void {
  offsetMs = 0;
  if (installed) globalThis.Date = RealDate;
  installed = false;
}
