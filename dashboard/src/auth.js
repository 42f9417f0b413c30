// The token box: shown when the API answers 401 (it was started with
// --api-token-file). The token is tried on /api/v1/agent/alive before it
// is kept (api.js: sessionStorage, this tab only); a refused one is said
// so, and nothing is kept.
import { setToken, tryToken } from './api.js';
import { clear, h } from './dom.js';

export function loginPage(main, { hadToken, onDone }) {
  const message = h('div', hadToken ? h('div.error', 'The API refused the token this tab had: give the current one.') : null);
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true,
    placeholder: 'the text of the file given to --api-token-file', 'aria-label': 'API token' });
  const form = h('form.card.login', { onsubmit: async (e) => {
    e.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) return;
    clear(message, h('div.muted', 'Checking…'));
    try {
      await tryToken(candidate);
      setToken(candidate);
      onDone();
    } catch (err) {
      clear(message, h('div.error', err.status === 401
        ? 'Wrong token: the API refused it (401 Unauthorized). Give the text of the file shoal serve was given with --api-token-file.'
        : `The token could not be checked: ${err.message}`));
      input.select();
    }
  } },
  h('h2', 'This API needs a token'),
  h('p.muted', 'shoal serve was started with --api-token-file. Give the token it holds; this tab keeps it until it is closed and sends it with every request (Authorization: Bearer).'),
  h('label.field', h('span', 'Token'), input),
  h('div.actions', h('button.primary', { type: 'submit' }, 'Open the dashboard')),
  message);
  clear(main, h('div.head', h('h1', 'Sign in')), form);
  input.focus();
  return () => {};
}
