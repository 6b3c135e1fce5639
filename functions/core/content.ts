import { ValidationError } from './errors.ts';

/**
 * Course material: a git repository (and branch) whose files the lab merges into the
 * student's home when it starts, the way nbgitpuller does (containers/lab/hubless_lab/
 * content.py keeps the rules: new files appear, the teacher's updates land, a student's
 * edited file is kept with the teacher's version next to it, a deleted file comes back).
 * The control plane only carries the source to the lab; it never reads the repository.
 */
export interface ContentSource {
  /** A git URL the lab can clone: https://…, http://…, or file://… (a repository on the lab's machine). */
  repository: string;
  /** The branch; the repository's default branch when absent. */
  branch?: string;
}

/** Git URLs hubless passes to `git clone` (never an option: the URL follows `--`). */
const REPOSITORY = /^(https?|file):\/\/[^\s"'`\\]{1,480}$/;
/** A branch name git accepts and that cannot be read as an option or a range. */
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/-]{1,100}(?<![./])$/;

/** Checks a source given by a client (launch link, API start, LTI custom parameters). */
export function checkContentSource(source: ContentSource): ContentSource {
  if (!REPOSITORY.test(source.repository))
    throw new ValidationError(
      `"${source.repository}" is not a git repository URL hubless can pull: give an https:// URL (e.g. https://github.com/org/course.git).`,
      'invalid_repository',
    );
  if (source.branch !== undefined && !BRANCH.test(source.branch))
    throw new ValidationError(
      `"${source.branch}" is not a branch name: use letters, digits, ".", "_", "-" and "/" (e.g. "main").`,
      'invalid_branch',
    );
  return source.branch === undefined
    ? { repository: source.repository }
    : { repository: source.repository, branch: source.branch };
}

/** The folder the material lands in, inside the home: the repository's name (nbgitpuller's rule). */
export function contentFolder(source: ContentSource): string {
  const last = source.repository.replace(/\/+$/, '').split('/').at(-1) ?? '';
  const name = last.replace(/\.git$/, '');
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name) ? name : 'course';
}

/** What the lab reads at start (hubless_lab/content.py, sync_from_environment). */
export function contentEnvironment(source: ContentSource | undefined): Record<string, string> {
  if (!source) return {};
  return {
    HUBLESS_CONTENT_REPO: source.repository,
    HUBLESS_CONTENT_DIR: contentFolder(source),
    ...(source.branch ? { HUBLESS_CONTENT_BRANCH: source.branch } : {}),
  };
}

/** The source named by a request's `repository` and `branch` fields, checked; undefined without one. */
export function contentFrom(fields: { repository?: string; branch?: string }): ContentSource | undefined {
  if (fields.repository === undefined) return undefined;
  return checkContentSource({
    repository: fields.repository,
    ...(fields.branch === undefined ? {} : { branch: fields.branch }),
  });
}
