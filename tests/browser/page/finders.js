// Installed by tests/browser/actions.py once the page has loaded: find controls the way a user
// does (by their visible label or aria-label), tag them with data-t for a CSS selector, and
// measure labels. Evaluated as one expression; its value is true.

window.t = window.t || (() => {
  let counter = 0;
  const tag = (el) => {
    if (!el.getAttribute('data-t')) el.setAttribute('data-t', String(++counter));
    return '[data-t="' + el.getAttribute('data-t') + '"]';
  };
  const visible = (el) => el.getClientRects().length > 0 || el.type === 'checkbox';
  const control = (pattern, scope) => {
    const rx = new RegExp(pattern, 'i');
    const root = document.querySelector(scope || '#root');
    for (const label of root.querySelectorAll('label')) {
      if (!rx.test(label.textContent.trim())) continue;
      const el = label.htmlFor ? document.getElementById(label.htmlFor) : null;
      if (el && el !== label) return el;
      // A legacy FormLabel without htmlFor: the input of its own row.
      const row = label.parentElement;
      const input = row && row.querySelector('input:not([type=checkbox]), textarea');
      if (input) return input;
    }
    return Array.from(root.querySelectorAll('input, textarea, select, [role=textbox]')).find(
      (el) => rx.test(el.getAttribute('aria-label') || '') && visible(el)) || null;
  };
  return {
    control: (pattern, scope) => {
      const el = control(pattern, scope);
      return el ? tag(el) : null;
    },
    // The visible part of a switch: the box around its hidden checkbox.
    switchOf: (pattern, scope) => {
      const el = control(pattern, scope);
      return el ? tag(el.type === 'checkbox' ? el.parentElement : el) : null;
    },
    options: () => Array.from(document.querySelectorAll('[aria-label="Select option"]')).map(
      (el) => el.querySelector('span') ? el.querySelector('span').textContent : el.textContent),
    option: (text) => {
      const el = Array.from(document.querySelectorAll('[aria-label="Select option"]')).find(
        (o) => (o.querySelector('span') || o).textContent === text);
      return el ? tag(el) : null;
    },
    // Labels whose text does not fit their box (scrollWidth > clientWidth), with both widths.
    overflowing: (scope) => Array.from(document.querySelectorAll((scope || '#root') + ' label'))
      .filter((el) => el.getClientRects().length > 0 && el.textContent.trim())
      .filter((el) => el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight)
      .map((el) => ({
        text: el.textContent.trim(),
        scrollWidth: el.scrollWidth,
        clientWidth: el.clientWidth,
        scrollHeight: el.scrollHeight,
        clientHeight: el.clientHeight,
      })),
    labels: (scope) => Array.from(document.querySelectorAll((scope || '#root') + ' label'))
      .filter((el) => el.getClientRects().length > 0).map((el) => el.textContent.trim()).filter(Boolean),
  };
})();
true
