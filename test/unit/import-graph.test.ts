import { describe, expect, it } from 'vitest';
import { cycles, readImportGraph, ruleViolations } from '../../scripts/import-graph.ts';

/**
 * The layering of functions/ (scripts/import-graph.ts prints it): handlers are plain
 * (deps) => handler functions, the Lambda entry points are the only importers of the AWS
 * wiring, and no module imports itself back through others (type-only imports count).
 */
describe('the import graph of functions/', () => {
  const graph = readImportGraph();

  it('keeps every layer rule', () => {
    expect(ruleViolations(graph)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('lets only the Lambda entry points that run control-plane handlers import the AWS wiring', () => {
    const importers = [...graph.edges]
      .filter(([, targets]) => targets.includes('functions/wiring/aws.ts'))
      .map(([file]) => file);
    expect(importers.sort()).toEqual([
      'functions/lambda/api.ts',
      'functions/lambda/culler.ts',
      // Cognito's pre sign-up trigger: it builds only Cognito (awsFederatedSignUpDeps).
      'functions/lambda/federated-sign-up.ts',
      'functions/lambda/launcher.ts',
      'functions/lambda/portal.ts',
      'functions/lambda/task-events.ts',
    ]);
  });

  it('finds a cycle and a broken rule when there is one (the check can fail)', () => {
    const broken = {
      edges: new Map([
        ['functions/handlers/api.ts', ['functions/wiring/aws.ts']],
        ['functions/wiring/aws.ts', ['functions/handlers/api.ts']],
      ]),
    };
    expect(ruleViolations(broken)).toHaveLength(1);
    expect(cycles(broken)).toEqual([['functions/handlers/api.ts', 'functions/wiring/aws.ts']]);
  });
});
