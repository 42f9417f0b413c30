// shoal's dashboard: routes the location's hash to a page. A page is a
// function that fills <main> and returns a function that stops it (its
// polling, its log stream). A 401 from the API (api.js) stops the page and
// shows the token box instead (auth.js); once a token opens the API, the
// page is shown again.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { setToken, token } from './api.js';
import { loginPage } from './auth.js';
import { jobPage } from './job.js';
import { jobsPage } from './jobs.js';
import { metricsPage } from './metrics.js';
import { nodesPage } from './nodes.js';
import { submitPage } from './submit.js';

const main = document.getElementById('main');
const signOut = document.getElementById('signout');
let leave = () => {};
let signingIn = false;

function route() {
  leave();
  signingIn = false;
  signOut.hidden = !token();
  const hash = location.hash.replace(/^#\/?/, '') || 'jobs';
  const [page, ...rest] = hash.split('/');
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === page);
  if (page === 'jobs' && rest.length) leave = jobPage(main, decodeURIComponent(rest.join('/')));
  else if (page === 'submit') leave = submitPage(main);
  else if (page === 'nodes') leave = nodesPage(main);
  else if (page === 'metrics') leave = metricsPage(main);
  else leave = jobsPage(main);
  window.scrollTo(0, 0);
}

window.addEventListener('shoal:unauthorized', (e) => {
  if (signingIn) return;
  signingIn = true;
  leave();
  setToken('');
  signOut.hidden = true;
  leave = loginPage(main, { hadToken: e.detail.hadToken, onDone: route });
});
signOut.addEventListener('click', () => {
  setToken('');
  route();
});
window.addEventListener('hashchange', route);
route();
