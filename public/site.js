// Small enhancements on every page (the pages work without them): times in the browser's own zone, a page that
// answers a form stays out of the way of Back and reload, and the recovery codes' copy, download and print.
'use strict';
(() => {
  const root = document.documentElement;
  const lang = root.lang || 'ko';

  // A page that answers a POST names the GET page it belongs to: history then holds that page, so Back and reload
  // fetch it again instead of asking to send the form once more (or showing a cache-miss error).
  const pageOfPost = document.querySelector('meta[name="page-of-post"]')?.content;
  if (pageOfPost) history.replaceState(null, '', pageOfPost);

  // Times: the server wrote Seoul time (Korean) or UTC (English); here they read as "3 minutes ago", exact in the title.
  const exact = new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', second: '2-digit' });
  const relative = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const STEPS = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [7, 'day'],
    [4.35, 'week'],
    [12, 'month'],
    [Infinity, 'year'],
  ];
  const dayPeriods = lang === 'ko' ? { AM: '오전', PM: '오후' } : {};
  const exactly = (date) =>
    exact
      .formatToParts(date)
      .map(({ type, value }) => (type === 'dayPeriod' && dayPeriods[value]) || value)
      .join('');
  function ago(date) {
    let amount = (date.getTime() - Date.now()) / 1000;
    for (const [size, unit] of STEPS) {
      if (Math.abs(amount) < size) return relative.format(Math.round(amount), unit);
      amount /= size;
    }
    return '';
  }
  const times = [...document.querySelectorAll('time[datetime]')];
  const render = () => {
    for (const time of times) {
      const date = new Date(time.dateTime);
      if (Number.isNaN(date.getTime())) continue;
      time.title = exactly(date);
      time.textContent = ago(date);
    }
  };
  render();
  if (times.length) setInterval(render, 30_000);

  // Recovery codes: copy them all, download them as a text file, print them (the print stylesheet shows only them).
  const codes = document.getElementById('recovery-codes-list');
  if (codes) {
    const text = () => [...codes.querySelectorAll('.recovery-code')].map((code) => code.textContent).join('\n') + '\n';
    const tools = document.getElementById('recovery-tools');
    tools.hidden = false;
    const said = document.getElementById('recovery-tools-status');
    document.getElementById('copy-codes').addEventListener('click', async () => {
      await navigator.clipboard.writeText(text());
      said.textContent = said.dataset.copied;
    });
    document.getElementById('download-codes').addEventListener('click', () => {
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([text()], { type: 'text/plain' }));
      link.download = tools.dataset.filename;
      link.click();
      URL.revokeObjectURL(link.href);
    });
    document.getElementById('print-codes').addEventListener('click', () => window.print());
  }

  // The TOTP key: copy it whole, although it is shown in groups of four.
  const copyKey = document.getElementById('copy-secret');
  if (copyKey) {
    copyKey.hidden = false;
    copyKey.addEventListener('click', async () => {
      await navigator.clipboard.writeText(document.getElementById('totp-secret').textContent.trim());
      copyKey.textContent = copyKey.dataset.copied;
    });
  }
})();
