import { describe, expect, it } from 'vitest';
import { logLevelOf, parseSettings } from '../../functions/core/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';

describe('parseSettings', () => {
  it('gives the documented defaults', () => {
    const settings = parseSettings({});
    expect(settings.local.port).toBe(8000);
    expect(settings.local.dataDir).toBe('.hubless');
    expect(settings.idleTimeoutSeconds).toBe(3600);
    expect(settings.local.publicUrl).toBe('http://localhost:8000');
    expect(settings.profiles[0]?.name).toBe('standard');
  });

  it('reads HUBLESS_ variables', () => {
    const settings = parseSettings({
      HUBLESS_PORT: '9000',
      HUBLESS_IDLE_TIMEOUT_SECONDS: '120',
      HUBLESS_DATA_DIR: '/tmp/x',
    });
    expect(settings.local.port).toBe(9000);
    expect(settings.idleTimeoutSeconds).toBe(120);
    expect(settings.local.dataDir).toBe('/tmp/x');
    expect(settings.local.publicUrl).toBe('http://localhost:9000');
  });

  it('names the variable, the value and the rule when a value is bad', () => {
    expect(() => parseSettings({ HUBLESS_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => parseSettings({ HUBLESS_PORT: 'eighty' })).toThrow(/HUBLESS_PORT \(got "eighty"\)/);
    expect(() => parseSettings({ HUBLESS_IDLE_TIMEOUT_SECONDS: '5' })).toThrow(
      /HUBLESS_IDLE_TIMEOUT_SECONDS/,
    );
    expect(() => parseSettings({ HUBLESS_PROFILES: '[{"name":"Bad Name"}]' })).toThrow(/HUBLESS_PROFILES/);
  });
});

describe('HUBLESS_SHARED_DATA', () => {
  it('gives labs the shared folder unless it is false, and names the two values it takes', () => {
    expect(parseSettings({}).local.sharedData).toBe(true);
    expect(parseSettings({ HUBLESS_SHARED_DATA: 'false' }).local.sharedData).toBe(false);
    expect(() => parseSettings({ HUBLESS_SHARED_DATA: 'no' })).toThrow(
      /HUBLESS_SHARED_DATA \(got "no"\).*"true"\|"false"/,
    );
  });
});

describe('HUBLESS_LOG_LEVEL', () => {
  it('defaults to info and accepts debug, info, warn and error', () => {
    expect(parseSettings({}).logLevel).toBe('info');
    expect(parseSettings({ HUBLESS_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(parseSettings({ HUBLESS_LOG_LEVEL: 'error' }).logLevel).toBe('error');
  });

  it('refuses another value, naming the variable and what it got', () => {
    expect(() => parseSettings({ HUBLESS_LOG_LEVEL: 'verbose' })).toThrow(
      /HUBLESS_LOG_LEVEL \(got "verbose"\)/,
    );
  });

  it('still gives the logger a level when the value is bad, so the error can be logged', () => {
    expect(logLevelOf({ HUBLESS_LOG_LEVEL: 'warn' })).toBe('warn');
    expect(logLevelOf({ HUBLESS_LOG_LEVEL: 'verbose' })).toBe('info');
  });
});
