import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AlbSlots } from '../../functions/adapters/aws/alb-slots.ts';
import { DynamoSessionStore } from '../../functions/adapters/dynamodb/session-store.ts';
import { isTerminal, parseSessionId, type Session } from '../../functions/core/session.ts';
import type { SimAccount } from './account.ts';

/**
 * Everything in the simulated account that nothing owns any more, read from AWS's side
 * (ECS, ELB, EFS) and from the session table, named so a failing check says what leaked:
 *
 * - a live task that is not the current live session's task (a task without a session);
 * - a live session whose task is gone or never existed (a session without a task), and
 *   a ready session without one of its two rules (pages, API);
 * - a session rule that no live session's route names, or whose target is no live task
 *   (a rule without a task);
 * - a target group no rule forwards to;
 * - an ALB slot claimed by no live session;
 * - more than one home (access point) for one user.
 *
 * Only what belongs to `users` counts (a task, rule or slot by the user in its session id,
 * a home by its user tag): the account is shared by the tests of a file, and another
 * test's students may rightly still have their labs. A target group carries no owner
 * here, so any one without a rule counts.
 *
 * Sessions still in flight (pending, launching, running, stopping) are orphans only if
 * `settled` is true: call it after the run has quiesced and one reconcile has run.
 */
export async function findOrphans(sim: SimAccount, users: string[], settled = true): Promise<string[]> {
  const env = sim.deployment.env;
  const client = new DynamoDBClient({
    region: sim.deployment.region,
    endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
  });
  const doc = DynamoDBDocumentClient.from(client);
  try {
    const store = new DynamoSessionStore({ client: doc, tableName: env.HUBLESS_TABLE_NAME ?? '' });
    const sessions = new Map<string, Session>();
    for (const user of users) {
      const session = await store.get(user, '');
      if (session && !isTerminal(session.state)) sessions.set(session.id, session);
    }
    const orphans: string[] = [];
    const ours = new Set(users);
    const owned = (sessionId: string | undefined) => ours.has(ownerOf(sessionId));
    const liveTasks = sim.ecs.liveTasks().filter((task) => task.desiredStatus !== 'STOPPED');
    const liveByArn = new Map(liveTasks.map((task) => [task.taskArn, task]));
    const liveIps = new Set(liveTasks.map((task) => task.ip));
    for (const task of liveTasks) {
      if (!owned(task.startedBy)) continue;
      const session = sessions.get(task.startedBy ?? '');
      if (!session || session.computeHandle !== task.taskArn)
        orphans.push(`task without a session: ${task.startedBy} ${task.taskArn.split('/').pop()}`);
    }
    for (const session of sessions.values()) {
      const task = session.computeHandle ? liveByArn.get(session.computeHandle) : undefined;
      if (!task && (settled || session.state === 'ready'))
        orphans.push(`${session.state} session without a task: ${session.id}`);
      // Two rules per session: its pages' and its API's (AlbRouter).
      for (const key of ['ruleArn', 'apiRuleArn'])
        if (session.state === 'ready' && !sim.elb.rules.has(String(session.route?.[key])))
          orphans.push(`ready session without its ${key}: ${session.id}`);
    }
    const routedRules = new Set(
      [...sessions.values()]
        .flatMap((session) => [session.route?.ruleArn, session.route?.apiRuleArn])
        .filter(Boolean),
    );
    const forwarded = new Set<string>();
    for (const rule of sim.elb.sessionRules()) {
      const groupArn = rule.Actions.find((action) => action.TargetGroupArn)?.TargetGroupArn ?? '';
      forwarded.add(groupArn);
      const group = sim.elb.targetGroups.get(groupArn);
      const targets = [...(group?.targets.values() ?? [])];
      const session = rule.tags.find((tag) => tag.Key === 'hubless:session')?.Value;
      if (!owned(session)) continue;
      if (!targets.some((target) => liveIps.has(target.id)))
        orphans.push(`rule without a task: ${session} priority ${rule.Priority}`);
      else if (settled && !routedRules.has(rule.RuleArn))
        orphans.push(`rule no session records: ${session} priority ${rule.Priority}`);
    }
    for (const group of sim.elb.targetGroups.values())
      if (!forwarded.has(group.TargetGroupArn))
        orphans.push(`target group without a rule: ${group.TargetGroupName}`);
    const slots = new AlbSlots({
      doc,
      tableName: env.HUBLESS_TABLE_NAME ?? '',
      capacityPerAlb: Number(env.HUBLESS_ALB_CAPACITY ?? 95),
    });
    for (const balancer of sim.elb.balancers)
      for (const slot of await slots.list(balancer.listenerArn))
        if (owned(slot.sessionId) && !sessions.has(slot.sessionId))
          orphans.push(`slot without a live session: ${slot.sessionId}`);
    const homes = new Map<string, number>();
    for (const point of sim.efs.points.values()) {
      const owner = point.Tags.find((tag) => tag.Key === 'hubless:user')?.Value ?? '?';
      homes.set(owner, (homes.get(owner) ?? 0) + 1);
    }
    for (const [owner, count] of homes)
      if (ours.has(owner) && count > 1) orphans.push(`${count} homes for ${owner}`);
    return orphans;
  } finally {
    client.destroy();
  }
}

/** The user a session id names ('' for none or a malformed one, which no test's users include). */
function ownerOf(sessionId: string | undefined): string {
  try {
    return sessionId ? parseSessionId(sessionId).user : '';
  } catch {
    return '';
  }
}
