/**
 * Shared data: one folder the whole class reads (a data set, slides) without a copy in
 * every home. Every lab sees it read-only at `~/shared`; course admins' labs also get it
 * writable at `~/shared-write`, so a teacher updates it from their own lab and students
 * cannot change it. How it is mounted is the compute's business (an EFS access point on
 * AWS); who may write is decided here, once.
 */
export type SharedDataAccess = 'read' | 'write';

/** Where the shared folder appears in every home (read-only), and in a course admin's (writable). */
export const SHARED_FOLDER = 'shared';
export const SHARED_WRITE_FOLDER = 'shared-write';

/** Course admins: the group `course-admins`, or the admin group of a course (`<course>-admins`, see core/lti). */
export const COURSE_ADMINS_GROUP = 'course-admins';

export function sharedDataAccess(groups: readonly string[]): SharedDataAccess {
  return groups.some((group) => group === COURSE_ADMINS_GROUP || group.endsWith('-admins'))
    ? 'write'
    : 'read';
}
