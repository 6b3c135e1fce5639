/**
 * The one DynamoDB table hubless uses, shared by DynamoSessionStore, the ALB slot
 * allocator, and the Storage stack (which creates the same table in AWS; local mode
 * creates it on start). Single-table design:
 *
 *   item kind      pk                   sk                    gsi1pk            gsi1sk
 *   session        USER#<user>          SERVER#<server>       STATE#<state>     <updatedAt>#<id>
 *   ALB slot       SLOT#<listenerArn>   PRIORITY#<nnnnn>      -                 -
 *   sweep lease    LEASE#<name>         LEASE                 -                 -
 *   announcement   ANNOUNCEMENT#CURRENT ANNOUNCEMENT          -                 -
 *   launch counts  LAUNCHQ#launches     COUNTERS              -                 -
 *   class to come  CAPACITY#classes     <at>#<client>         -                 -
 *   (later kinds add their own pk prefixes)
 *
 * The state index lets the culler read only the sessions it may act on (query
 * STATE#ready) instead of scanning; the sort key orders them by last update.
 * `expiresAt` (epoch seconds) is the TTL attribute; TTL deletes late, so readers also
 * filter expired items.
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  stateIndex: 'byState',
  stateIndexPartitionKey: 'gsi1pk',
  stateIndexSortKey: 'gsi1sk',
  ttlAttribute: 'expiresAt',
} as const;

export const keyPrefix = {
  user: 'USER#',
  server: 'SERVER#',
  state: 'STATE#',
  slot: 'SLOT#',
  priority: 'PRIORITY#',
  lease: 'LEASE#',
  announcement: 'ANNOUNCEMENT#',
  launchQueue: 'LAUNCHQ#',
  capacity: 'CAPACITY#',
} as const;
