// Draws the executed agreement on the staff request page with pdf.js, one canvas per page, so a
// reviewer reads it beside the decision. The viewer is hidden in the HTML and shown here: without
// scripts the page offers the download link only. pdf.js and its worker come from the portal
// (/vendor/pdfjs/), evaluates no strings as code, loads no fonts, character maps or WebAssembly
// from anywhere, and the PDF is fetched from the portal's staff-only address.

/** Zoom steps, as multiples of "fit to width". */
const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];
const FIT = ZOOMS.indexOf(1);
/** A rendered page is at most this many device pixels, however far it is zoomed. */
const MAX_CANVAS_PIXELS = 16_000_000;
// An agreement is a few pages; a PDF of thousands would be thousands of canvases in the reviewer's browser.
const MAX_PAGES = 20;
/** Images in the PDF larger than this (in pixels) are not drawn: a small file can hold a huge image. */
const MAX_IMAGE_PIXELS = 25_000_000;

const viewer = document.querySelector("[data-pdf-viewer]");
if (viewer) start(viewer);

function start(root) {
  const pagesBox = root.querySelector("[data-pdf-pages]");
  const status = root.querySelector("[data-pdf-status]");
  const zoomLabel = root.querySelector("[data-pdf-zoom-label]");
  const fallback = document.querySelector("[data-pdf-fallback]");
  const state = { pdf: null, zoom: FIT, tasks: [], width: 0, generation: 0 };

  root.hidden = false;
  root.dataset.state = "loading";

  function fail() {
    for (const task of state.tasks) task.cancel();
    root.hidden = true;
    root.dataset.state = "failed";
    if (fallback) fallback.hidden = false;
  }

  async function renderAll() {
    const generation = ++state.generation;
    for (const task of state.tasks) task.cancel();
    state.tasks = [];
    state.width = innerWidth(pagesBox);
    const canvases = pagesBox.querySelectorAll("canvas");
    const drawn = [];
    for (let number = 1; number <= canvases.length; number += 1) {
      drawn.push(renderPage(number, canvases[number - 1], generation));
    }
    await Promise.all(drawn);
    if (generation !== state.generation) return;
    zoomLabel.textContent = state.zoom === FIT ? "Fit to width" : `${Math.round(ZOOMS[state.zoom] * 100)}% of the width`;
    root.dataset.state = "rendered";
  }

  async function renderPage(number, canvas, generation) {
    const page = await state.pdf.getPage(number);
    if (generation !== state.generation) return;
    const natural = page.getViewport({ scale: 1 });
    const fitScale = Math.max(state.width, 100) / natural.width;
    const viewport = page.getViewport({ scale: fitScale * ZOOMS[state.zoom] });
    const ratio = Math.min(window.devicePixelRatio || 1, Math.sqrt(MAX_CANVAS_PIXELS / (viewport.width * viewport.height)));
    canvas.width = Math.floor(viewport.width * ratio);
    canvas.height = Math.floor(viewport.height * ratio);
    canvas.style.width = `${Math.floor(viewport.width)}px`;
    canvas.style.height = `${Math.floor(viewport.height)}px`;
    const task = page.render({ canvas, viewport, transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0] });
    state.tasks.push(task);
    try {
      await task.promise;
    } catch (error) {
      // A newer render (zoom, resize) cancelled this one; anything else is a failure.
      if (error && error.name === "RenderingCancelledException") return;
      throw error;
    }
  }

  function addCanvases(shown, count) {
    for (let number = 1; number <= shown; number += 1) {
      const canvas = document.createElement("canvas");
      canvas.className = "pdf-page";
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `Page ${number} of ${count} of the agreement`);
      pagesBox.append(canvas);
    }
  }

  function zoomTo(index) {
    state.zoom = Math.min(Math.max(index, 0), ZOOMS.length - 1);
    root.querySelector("[data-zoom='out']").disabled = state.zoom === 0;
    root.querySelector("[data-zoom='in']").disabled = state.zoom === ZOOMS.length - 1;
    // Still loading: the first drawing uses the zoom chosen meanwhile.
    if (state.pdf) renderAll().catch(fail);
  }

  root.querySelector("[data-zoom='out']").addEventListener("click", () => zoomTo(state.zoom - 1));
  root.querySelector("[data-zoom='in']").addEventListener("click", () => zoomTo(state.zoom + 1));
  root.querySelector("[data-zoom='fit']").addEventListener("click", () => zoomTo(FIT));

  // A phone turned sideways, or a resized window: the pages follow the new width.
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => {
      if (state.pdf && innerWidth(pagesBox) !== state.width) renderAll().catch(fail);
    }, 150);
  });

  load(root).then(
    (pdf) => {
      state.pdf = pdf;
      status.textContent = pageCount(pdf.numPages);
      addCanvases(Math.min(pdf.numPages, MAX_PAGES), pdf.numPages);
      return renderAll();
    },
  ).catch(fail);
}

/** What the status line says of the page count; past the limit, where the rest is. */
function pageCount(count) {
  if (count > MAX_PAGES) return `The first ${MAX_PAGES} of ${count} pages are shown: download the agreement to read the rest`;
  return count === 1 ? "1 page" : `${count} pages`;
}

/** The width a page may take in its box: the box's width less its padding. */
function innerWidth(box) {
  const style = window.getComputedStyle(box);
  return Math.floor(box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight));
}

async function load(root) {
  const pdfjs = await import(root.dataset.pdfjs);
  pdfjs.GlobalWorkerOptions.workerSrc = root.dataset.worker;
  const response = await fetch(root.dataset.src, { credentials: "same-origin", headers: { Accept: "application/pdf" } });
  if (!response.ok) throw new Error(`the agreement answered ${response.status}`);
  const data = new Uint8Array(await response.arrayBuffer());
  return pdfjs.getDocument({
    data,
    isEvalSupported: false,
    enableXfa: false,
    useWasm: false,
    useSystemFonts: true,
    maxImageSize: MAX_IMAGE_PIXELS,
    stopAtErrors: true,
  }).promise;
}
