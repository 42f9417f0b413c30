// shoal's dashboard: routes the location's hash to a page. A page is a
// function that fills <main> and returns a function that stops it (its
// polling, its log stream).
import './style.css';
import { jobPage } from './job.js';
import { jobsPage } from './jobs.js';
import { nodesPage } from './nodes.js';
import { submitPage } from './submit.js';

const main = document.getElementById('main');
let leave = () => {};

function route() {
  leave();
  const hash = location.hash.replace(/^#\/?/, '') || 'jobs';
  const [page, ...rest] = hash.split('/');
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === page);
  if (page === 'jobs' && rest.length) leave = jobPage(main, decodeURIComponent(rest.join('/')));
  else if (page === 'submit') leave = submitPage(main);
  else if (page === 'nodes') leave = nodesPage(main);
  else leave = jobsPage(main);
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
route();
