import type { Announcement } from '../../core/announcements.ts';
import type { Profile, User } from '../../core/ports.ts';
import { describeState, isTerminal, type Session } from '../../core/session.ts';
import { profilesFor } from '../../core/use-cases/start-server.ts';
import { escapeHtml as e } from '../http.ts';
import { layout, type PageUser, type StopPolicy, stopNotice } from './views.ts';

/**
 * The admin page: users (search, paging, add, edit, disable/enable, password reset,
 * start/stop their server), all active servers with their progress and stop times, the
 * bulk stop of a group, and the announcement. Plain forms, one POST per action.
 */

export interface AdminListing {
  /** The search as typed ('' for none). */
  query: string;
  /** Users matching the search, this page only, each with their servers (any state). */
  users: Array<{ user: User; sessions: Session[] }>;
  /** How many users match the search, and how many the directory has. */
  matching: number;
  total: number;
  page: number;
  pages: number;
  /** Active servers (and recent failures) matching the search, this page only. */
  servers: Session[];
  serverCount: number;
  /** Every group any user is in, for the bulk stop. */
  groups: string[];
}

export interface AdminPageData {
  listing: AdminListing;
  profiles: Profile[];
  policy: StopPolicy;
  now: Date;
  /** The stored announcement (shown in the form even when it has ended). */
  announcement?: Announcement;
  /** What the last action did, shown once at the top. */
  notice?: string;
  /**
   * A password to hand over, shown in this response only: after an add or a reset. Never
   * put in a URL or stored.
   */
  secret?: { user: string; password: string };
}

const time = (iso: string | undefined) =>
  iso ? `<time datetime="${e(iso)}">${e(iso.replace('T', ' ').slice(0, 16))}</time>` : '—';

/** "2 h 5 min", "4 min", "30 s": how long a server ran. */
export function formatRunTime(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.floor(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** From ready (or start) to stop, or to now while it runs. */
function ranFor(session: Session, now: Date): string {
  const from = Date.parse(session.readyAt ?? session.createdAt);
  const to = session.stoppedAt
    ? Date.parse(session.stoppedAt)
    : isTerminal(session.state)
      ? from
      : now.getTime();
  return Number.isNaN(from) || Number.isNaN(to) ? '—' : formatRunTime((to - from) / 1000);
}

const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${e(value)}">`;

function profileSelect(profiles: Profile[], selected: string | undefined, id: string, label: string): string {
  const options = profiles
    .map((p) => `<option value="${e(p.name)}"${p.name === selected ? ' selected' : ''}>${e(p.name)}</option>`)
    .join('');
  return `<label for="${id}">${label}</label> <select id="${id}" name="profile">${options}</select>`;
}

/** The state of a server, with its progress while starting and its stop reason after. */
function serverState(s: Session, policy: StopPolicy): string {
  const last = s.events.at(-1);
  const progress =
    s.state === 'pending' || s.state === 'launching' || s.state === 'running'
      ? ` <progress max="100" value="${last?.progress ?? 0}" aria-label="Progress of ${e(s.user)}'s server">${last?.progress ?? 0}%</progress> <span class="muted">${e(last?.message ?? '')}</span>`
      : '';
  // A stopped server's reason is the notice (as it was stopped); a running one's, when it will be.
  if (s.state === 'stopped' && s.reason) return `<span class="state">stopped</span> ${stopNotice(s, policy)}`;
  const failed = s.state === 'failed' ? ' error' : '';
  return `<span class="state${failed}">${e(describeState(s))}</span>${progress} ${stopNotice(s, policy)}`;
}

function serverName(s: Session): string {
  return `${e(s.user)}${s.server ? `/${e(s.server)}` : ''}`;
}

function stopForm(s: Session, back: string): string {
  return `<form class="inline" method="post" action="/admin/stop">${hidden('user', s.user)}${hidden('server', s.server)}${hidden('back', back)}<button type="submit" aria-label="Stop ${e(s.user)}${s.server ? `/${e(s.server)}` : ''}">Stop</button></form>`;
}

function userRow(entry: { user: User; sessions: Session[] }, data: AdminPageData, back: string): string {
  const { user, sessions } = entry;
  const id = `u-${user.name}`;
  const main = sessions.find((s) => s.server === '');
  const active = sessions.filter((s) => !isTerminal(s.state));
  const servers = sessions.length
    ? sessions
        .map(
          (s) =>
            `<div>${s.server ? `<strong>${e(s.server)}</strong>: ` : ''}${serverState(s, data.policy)}${isTerminal(s.state) ? '' : ` ${stopForm(s, back)}`}</div>`,
        )
        .join('')
    : '<span class="muted">never started</span>';
  const allowed = profilesFor(data.profiles, user.groups);
  const start =
    user.disabled || (main && !isTerminal(main.state)) || allowed.length === 0
      ? ''
      : `<form method="post" action="/admin/servers/start">${hidden('user', user.name)}${hidden('back', back)}
         ${profileSelect(allowed, user.profile, `${id}-start-profile`, 'Profile')}
         <button type="submit" aria-label="Start a server for ${e(user.name)}">Start server</button></form>`;
  const toggle = user.disabled
    ? `<form class="inline" method="post" action="/admin/users/enable">${hidden('user', user.name)}${hidden('back', back)}<button type="submit" aria-label="Enable ${e(user.name)}">Enable</button></form>`
    : `<form class="inline" method="post" action="/admin/users/disable">${hidden('user', user.name)}${hidden('back', back)}<button type="submit" aria-label="Disable ${e(user.name)}">Disable</button></form>`;
  const reset = `<form class="inline" method="post" action="/admin/users/password">${hidden('user', user.name)}${hidden('back', back)}<button type="submit" aria-label="Reset the password of ${e(user.name)}">Reset password</button></form>`;
  const edit = `<details><summary aria-label="Edit ${e(user.name)}">Edit</summary>
    <form method="post" action="/admin/users/update" aria-label="Edit ${e(user.name)}">${hidden('user', user.name)}${hidden('back', back)}
      <p><label for="${id}-groups">Groups</label> <input id="${id}-groups" name="groups" value="${e(user.groups.join(', '))}"> <small>comma-separated</small></p>
      <p><input type="checkbox" id="${id}-admin" name="admin" value="yes"${user.admin ? ' checked' : ''}> <label for="${id}-admin">Administrator</label></p>
      <p>${profileSelect([{ name: '', description: '' } as Profile, ...data.profiles], user.profile ?? '', `${id}-profile`, 'Default profile')}</p>
      <button type="submit">Save ${e(user.name)}</button>
    </form></details>`;
  return `<tr id="${e(id)}"><th scope="row">${e(user.name)}${user.admin ? ' <span class="muted">(admin)</span>' : ''}${
    user.disabled ? ' <span class="muted" data-disabled>(disabled)</span>' : ''
  }<div class="muted">${e(user.email ?? '')}</div></th>
    <td>${e(user.groups.join(', ')) || '—'}</td><td>${e(user.profile ?? '—')}</td>
    <td>${servers}${
      active.length
        ? `<div class="muted">last activity ${time(
            active
              .map((s) => s.lastActivity)
              .filter(Boolean)
              .sort()
              .at(-1),
          )}</div>`
        : ''
    }</td>
    <td>${start}${toggle} ${reset}${edit}</td></tr>`;
}

function pageLink(query: string, page: number, label: string): string {
  const params = new URLSearchParams({ ...(query ? { q: query } : {}), page: String(page) });
  return `<a href="/admin?${e(params.toString())}">${label}</a>`;
}

function usersSection(data: AdminPageData, back: string): string {
  const l = data.listing;
  const rows = l.users.map((entry) => userRow(entry, data, back)).join('');
  const nav = [
    l.page > 1 ? pageLink(l.query, l.page - 1, 'Previous page') : '',
    `<span>Page ${l.page} of ${l.pages}</span>`,
    l.page < l.pages ? pageLink(l.query, l.page + 1, 'Next page') : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const count = l.query
    ? `${l.matching.toLocaleString('en')} of ${l.total.toLocaleString('en')} users match “${e(l.query)}”`
    : `${l.total.toLocaleString('en')} users`;
  return `<section aria-labelledby="users-heading"><h2 id="users-heading">Users</h2>
    <form method="get" action="/admin" role="search"><label for="q">Search users</label>
      <input id="q" name="q" type="search" value="${e(l.query)}" placeholder="name, e-mail or group"> <button type="submit">Search</button>
      ${l.query ? '<a href="/admin">Show all</a>' : ''}</form>
    <p id="user-count">${count}</p>
    ${
      rows
        ? `<table><caption>${count}, page ${l.page} of ${l.pages}</caption><thead><tr><th scope="col">User</th><th scope="col">Groups</th><th scope="col">Default profile</th><th scope="col">Servers</th><th scope="col">Actions</th></tr></thead><tbody>${rows}</tbody></table>`
        : '<p>No user matches.</p>'
    }
    <nav aria-label="Pages of users">${nav}</nav></section>`;
}

function addUserSection(profiles: Profile[]): string {
  return `<details><summary>Add a user</summary>
    <form method="post" action="/admin/users/add" aria-label="Add a user">
      <p><label for="new-name">Username</label> <input id="new-name" name="user" required pattern="[A-Za-z][A-Za-z0-9-]{0,31}"> <small>lowercase letters, digits and hyphens</small></p>
      <p><label for="new-email">E-mail</label> <input id="new-email" name="email" type="email"> <small>where the directory can mail an invitation; without one, a password is shown here once</small></p>
      <p><label for="new-groups">Groups</label> <input id="new-groups" name="groups"> <small>comma-separated</small></p>
      <p>${profileSelect([{ name: '', description: '' } as Profile, ...profiles], '', 'new-profile', 'Default profile')}</p>
      <p><input type="checkbox" id="new-admin" name="admin" value="yes"> <label for="new-admin">Administrator</label></p>
      <button class="primary" type="submit">Add user</button>
    </form></details>`;
}

function serversSection(data: AdminPageData, back: string): string {
  const l = data.listing;
  const rows = l.servers
    .map(
      (
        s,
      ) => `<tr><th scope="row">${serverName(s)}</th><td>${e(s.profile)}</td><td>${serverState(s, data.policy)}</td>
        <td>${time(s.createdAt)}</td><td>${ranFor(s, data.now)}</td><td>${time(s.lastActivity)}</td>
        <td>${isTerminal(s.state) ? '' : stopForm(s, back)}</td></tr>`,
    )
    .join('');
  const groups = data.listing.groups.map((g) => `<option value="${e(g)}">${e(g)}</option>`).join('');
  return `<section aria-labelledby="servers-heading"><h2 id="servers-heading">Servers</h2>
    ${
      rows
        ? `<table id="servers"><caption>${l.serverCount} server${l.serverCount === 1 ? '' : 's'} running, starting or failed${l.query ? ` for users matching “${e(l.query)}”` : ''}${l.servers.length < l.serverCount ? ` (first ${l.servers.length} shown)` : ''}</caption>
          <thead><tr><th scope="col">Server</th><th scope="col">Profile</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Ran for</th><th scope="col">Last activity</th><th scope="col">Action</th></tr></thead>
          <tbody>${rows}</tbody></table>`
        : '<p id="servers">No servers are running.</p>'
    }
    ${
      groups
        ? `<form method="post" action="/admin/servers/stop-group" aria-label="Stop a group's servers"><label for="stop-group">Stop every server of the group</label>
        <select id="stop-group" name="group">${groups}</select>${hidden('back', back)} <button type="submit">Stop the group's servers</button></form>`
        : ''
    }</section>`;
}

function announcementSection(announcement: Announcement | undefined, now: Date): string {
  const ended = announcement?.endsAt && Date.parse(announcement.endsAt) <= now.getTime();
  return `<section aria-labelledby="announcement-heading"><h2 id="announcement-heading">Announcement</h2>
    <p class="muted">Shown at the top of every portal page and the start page${ended ? '. The one below has ended and is no longer shown.' : '.'}</p>
    <form method="post" action="/admin/announcement" aria-label="Announcement">
      <p><label for="announcement-message">Message</label><br><textarea id="announcement-message" name="message" rows="2" cols="60" maxlength="500">${e(announcement?.message ?? '')}</textarea></p>
      <p><label for="announcement-ends">Ends at (UTC)</label> <input id="announcement-ends" name="ends" type="datetime-local" value="${e(announcement?.endsAt?.slice(0, 16) ?? '')}"> <small>empty: until cleared</small></p>
      <button type="submit" name="action" value="set">Set announcement</button> <button type="submit" name="action" value="clear">Clear announcement</button>
    </form></section>`;
}

export function adminPage(user: PageUser, data: AdminPageData): string {
  const l = data.listing;
  const back = `/admin?${new URLSearchParams({ ...(l.query ? { q: l.query } : {}), page: String(l.page) })}`;
  const notice = data.notice ? `<p class="notice" role="status" id="admin-notice">${e(data.notice)}</p>` : '';
  const secret = data.secret
    ? `<div class="announcement" role="alert" id="one-time-password"><p>The password of <strong>${e(data.secret.user)}</strong> is
       <code id="password-value">${e(data.secret.password)}</code></p>
       <p>It is shown this once: hand it to ${e(data.secret.user)} now (they sign in with it). If it is lost, reset it again.</p></div>`
    : '';
  return layout(
    'Admin',
    user,
    `${notice}${secret}${addUserSection(data.profiles)}${usersSection(data, back)}${serversSection(data, back)}${announcementSection(data.announcement, data.now)}`,
  );
}
