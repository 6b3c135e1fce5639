import type { Announcement } from '../../core/announcements.ts';
import { type CullPolicy, plannedStop } from '../../core/culling/policy.ts';
import type { Profile } from '../../core/ports.ts';
import { describeState, type Session } from '../../core/session.ts';
import { escapeHtml as e } from '../http.ts';

/**
 * Server-rendered pages: plain HTML with a little JavaScript on the progress page,
 * readable without styles and usable with a keyboard and a screen reader.
 */

const STYLE = `
  body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1b1f23; }
  header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #ccc; margin-bottom: 1.5rem; }
  header a, header form { margin-left: 1rem; }
  button, .button { font: inherit; padding: .5rem 1.1rem; border-radius: 4px; border: 1px solid #555; background: #f4f4f4; cursor: pointer; text-decoration: none; color: inherit; display: inline-block; }
  button.primary, .button.primary { background: #1a5fb4; color: #fff; border-color: #1a5fb4; }
  button:focus-visible, a:focus-visible { outline: 3px solid #f5c211; outline-offset: 2px; }
  progress { width: 100%; height: 1.4rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }
  .error { border-left: 4px solid #c01c28; padding: .5rem 1rem; background: #fff0f0; }
  .state { font-weight: 600; }
  form.inline { display: inline; }
  ol#log { color: #444; }
  .announcement { border-left: 4px solid #1a5fb4; padding: .5rem 1rem; background: #eef4fc; margin-bottom: 1rem; }
  .notice { border-left: 4px solid #986a44; padding: .3rem .8rem; background: #fdf6e3; }
  .muted { color: #555; font-size: .9em; }
  fieldset { border: 1px solid #ccc; margin: 0 0 1rem; }
  td form { margin: .1rem 0; }
`;

export interface PageUser {
  name: string;
  admin: boolean;
  /** The announcement every page shows this viewer (core/announcements.ts), when there is one. */
  announcement?: Announcement;
}

/** How long servers may idle (and run), for the notice of when one will be stopped. */
export type StopPolicy = Pick<CullPolicy, 'idleTimeoutSeconds' | 'maxAgeSeconds'>;

/**
 * What a user reads next to a server's state about its stop: when the culler will stop a
 * running server (core/culling/policy.ts plannedStop), and why a stopped one was stopped.
 */
export function stopNotice(session: Session | undefined, policy: StopPolicy | undefined): string {
  if (!session) return '';
  if (session.state === 'stopped' && session.reason)
    return `<span class="notice" data-stop-reason="${e(session.reason.code)}">${e(session.reason.message)}</span>`;
  const planned = policy ? plannedStop(session, policy) : undefined;
  if (!planned) return '';
  return `<span class="notice" data-planned-stop="${e(planned.at.toISOString())}"><time datetime="${e(planned.at.toISOString())}">${e(planned.message)}</time></span>`;
}

function announcementBanner(announcement: Announcement | undefined): string {
  if (!announcement) return '';
  const until = announcement.endsAt
    ? ` <small class="muted">(until ${e(announcement.endsAt.replace('T', ' ').slice(0, 16))} UTC)</small>`
    : '';
  return `<aside class="announcement" role="note" aria-label="Announcement" id="announcement"><p>${e(announcement.message)}${until}</p></aside>`;
}

/** GET /logout asks first: a link or an image elsewhere must not sign anyone out (CSRF). */
export function logoutPage(user: PageUser): string {
  return layout(
    'Sign out',
    user,
    `<h2>Sign out of hubless?</h2><form method="post" action="/logout"><button type="submit" class="primary">Sign out</button></form>`,
  );
}

export function layout(title: string, user: PageUser | undefined, main: string): string {
  const nav = user
    ? `<nav aria-label="Account"><span>Signed in as <strong>${e(user.name)}</strong></span>${
        user.admin ? '<a href="/admin">Admin</a>' : ''
      }<a href="/">Home</a><form class="inline" method="post" action="/logout"><button type="submit">Sign out</button></form></nav>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)} · hubless</title><style>${STYLE}</style></head>
<body><header><h1><a href="/" style="color:inherit;text-decoration:none">hubless</a></h1>${nav}</header>
${announcementBanner(user?.announcement)}<main id="main">${main}</main></body></html>`;
}

function profileChooser(profiles: Profile[], preferred?: string, id = 'profile'): string {
  if (profiles.length <= 1) {
    return '';
  }
  const options = profiles
    .map(
      (p) =>
        `<option value="${e(p.name)}"${p.name === (preferred ?? profiles[0]?.name) ? ' selected' : ''}>${e(p.name)}${p.description ? ` (${e(p.description)})` : ''}</option>`,
    )
    .join('');
  return `<p><label for="${id}">Server size</label> <select id="${id}" name="profile">${options}</select></p>`;
}

export interface NamedServers {
  /** The user's named servers (any state), each with where it opens. */
  servers: Array<{ session: Session; url: string }>;
  /** How many may run at once; 0: named servers are off. */
  limit: number;
}

/** The named servers section: each server's state and actions, and a form for a new one. */
function namedServersSection(
  named: NamedServers,
  profiles: Profile[],
  preferred?: string,
  policy?: StopPolicy,
): string {
  if (named.limit === 0) return '';
  const rows = named.servers
    .map(({ session: s, url }) => {
      const hidden = `<input type="hidden" name="server" value="${e(s.server)}">`;
      let actions: string;
      if (s.state === 'ready')
        actions = `<a class="button primary" href="${e(url)}">Open</a>
          <form class="inline" method="post" action="/stop">${hidden}<button type="submit" aria-label="Stop ${e(s.server)}">Stop</button></form>`;
      else if (s.state === 'stopped' || s.state === 'failed')
        actions = `<form class="inline" method="post" action="/start">${hidden}<input type="hidden" name="profile" value="${e(s.profile)}"><button type="submit" aria-label="Start ${e(s.server)}">Start</button></form>`;
      else if (s.state === 'stopping') actions = 'stopping…';
      else
        actions = `<a class="button" href="/spawn-pending?server=${encodeURIComponent(s.server)}">Watch it start</a>
          <form class="inline" method="post" action="/stop">${hidden}<button type="submit" aria-label="Cancel ${e(s.server)}">Cancel</button></form>`;
      return `<tr><td>${e(s.server)}</td><td>${e(s.profile)}</td><td class="state">${e(describeState(s))}${s.state === 'ready' ? ` ${stopNotice(s, policy)}` : ''}</td><td>${actions}</td></tr>`;
    })
    .join('');
  const table = named.servers.length
    ? `<table><caption>Your named servers (up to ${named.limit} running at once)</caption>
       <thead><tr><th scope="col">Name</th><th scope="col">Profile</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
       <tbody>${rows}</tbody></table>`
    : `<p>You have no named servers. You may run up to ${named.limit} beside your default server, e.g. one per project.</p>`;
  return `<h2>Named servers</h2>${table}
    <form method="post" action="/start" aria-label="New named server">
      <p><label for="server-name">Name</label> <input id="server-name" name="server" required pattern="[a-z][a-z0-9-]{0,31}" placeholder="project-a">
      <small>lowercase letters, digits and hyphens</small></p>
      ${profileChooser(profiles, preferred, 'server-profile')}
      <button type="submit">Start a named server</button>
    </form>`;
}

export function homePage(
  user: PageUser,
  session: Session | undefined,
  labUrl: string,
  profiles: Profile[],
  /** The user's default profile (set by an admin or LMS), selected first. */
  preferred?: string,
  named: NamedServers = { servers: [], limit: 0 },
  policy?: StopPolicy,
): string {
  const state = session ? describeState(session) : 'not started';
  let actions: string;
  if (!session || session.state === 'stopped' || session.state === 'failed') {
    actions = `<form method="post" action="/start">${profileChooser(profiles, preferred)}<button class="primary" type="submit">Start my server</button></form>`;
  } else if (session.state === 'ready') {
    actions = `<a class="button primary" href="${e(labUrl)}">Open my server</a>
      <form class="inline" method="post" action="/stop"><button type="submit">Stop my server</button></form>`;
  } else if (session.state === 'stopping') {
    actions = '<p>Your server is stopping. Refresh this page in a moment.</p>';
  } else {
    actions = `<a class="button primary" href="/spawn-pending">Watch it start</a>
      <form class="inline" method="post" action="/stop"><button type="submit">Cancel</button></form>`;
  }
  const failure =
    session?.state === 'failed' && session.reason
      ? `<div class="error" role="alert"><p><strong>Your last start failed:</strong> ${e(session.reason.message)}</p></div>`
      : '';
  return layout(
    'Home',
    user,
    `<h2>Your server</h2>${failure}
     <p>State: <span class="state" id="server-state">${e(state)}</span></p>
     ${session?.state === 'ready' ? `<p id="server-stop-notice">${stopNotice(session, policy)}</p>` : ''}
     ${actions}
     <p>Your files live in your home directory and stay there when your server stops.</p>
     ${namedServersSection(named, profiles, preferred, policy)}`,
  );
}

export function spawnPendingPage(user: PageUser, session: Session): string {
  const last = session.events.at(-1);
  const progressUrl = session.server ? `/progress?server=${encodeURIComponent(session.server)}` : '/progress';
  return layout(
    'Starting your server',
    user,
    `<h2>Starting your server</h2>
     <p><label for="progress-bar">Progress</label></p>
     <progress id="progress-bar" max="100" value="${last?.progress ?? 0}" aria-describedby="progress-message">${last?.progress ?? 0}%</progress>
     <p id="progress-message" role="status" aria-live="polite">${e(last?.message ?? 'Starting')}</p>
     <div id="progress-error" class="error" role="alert" hidden></div>
     <details><summary>Event log</summary><ol id="log">${session.events.map((ev) => `<li>${e(ev.message)}</li>`).join('')}</ol></details>
     <script>
     (function () {
       var bar = document.getElementById('progress-bar');
       var message = document.getElementById('progress-message');
       var log = document.getElementById('log');
       var errorBox = document.getElementById('progress-error');
       function show(p) {
         bar.value = p.progress; bar.textContent = p.progress + '%';
         message.textContent = p.message;
         log.innerHTML = '';
         p.events.forEach(function (ev) { var li = document.createElement('li'); li.textContent = ev.message; log.appendChild(li); });
       }
       var seen = '';
       // A long poll: the portal answers when the progress differs from what this page shows.
       function tick() {
         var url = ${JSON.stringify(progressUrl)} + (seen ? ${JSON.stringify(progressUrl.includes('?') ? '&' : '?')} + 'seen=' + encodeURIComponent(seen) : '');
         fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
           .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
           .then(function (p) {
             show(p);
             seen = p.version;
             if (p.ready) { window.location.assign(p.url); return; }
             if (p.failed) {
               errorBox.hidden = false;
               errorBox.innerHTML = '<p><strong>Your server could not start.</strong></p><p></p><p><a class="button primary" href="/">Back to home</a></p>';
               errorBox.querySelectorAll('p')[1].textContent = p.message;
               return;
             }
             tick();
           })
           .catch(function () { setTimeout(tick, 2000); });
       }
       tick();
     })();
     </script>`,
  );
}

export function notRunningPage(user: PageUser, owner: string, server = ''): string {
  if (owner !== user.name) {
    return layout(
      'Not allowed',
      user,
      `<h2>Not allowed</h2><p>This server belongs to another user. You can only open your own server.</p><p><a href="/">Go to your home page</a></p>`,
    );
  }
  return layout(
    'Server not running',
    user,
    `<h2>Your server${server ? ` "${e(server)}"` : ''} is not running</h2><p>Start it to open your files.</p>
     <form method="post" action="/start"><input type="hidden" name="server" value="${e(server)}"><button class="primary" type="submit">Start my server</button></form>`,
  );
}

export function errorPage(user: PageUser | undefined, title: string, message: string): string {
  return layout(
    title,
    user,
    `<h2>${e(title)}</h2><div class="error" role="alert"><p>${e(message)}</p></div><p><a href="/">Back to home</a></p>`,
  );
}
