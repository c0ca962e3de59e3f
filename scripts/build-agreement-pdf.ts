/**
 * Builds public/keysign-agreement.pdf (the blank Key Signing Agreement) from
 * docs/key-signing-agreement.md, with a small PDF writer: Helvetica text, A4 pages.
 * Run with `npx tsx scripts/build-agreement-pdf.ts` after editing the text.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const source = readFileSync(path.join(root, "docs", "key-signing-agreement.md"), "utf8");

const PAGE = { width: 595, height: 842, margin: 56 };
const WRAP = 90;

interface Line { text: string; size: number; font: "F1" | "F2" }

function layout(markdown: string): Line[] {
  const lines: Line[] = [];
  for (const raw of markdown.split("\n")) {
    if (raw.startsWith("# ")) lines.push({ text: raw.slice(2), size: 15, font: "F2" }, { text: "", size: 8, font: "F1" });
    else if (raw.startsWith("## ")) lines.push({ text: "", size: 6, font: "F1" }, { text: raw.slice(3), size: 12, font: "F2" });
    else if (raw.trim() === "") lines.push({ text: "", size: 6, font: "F1" });
    else for (const part of wrap(raw, WRAP)) lines.push({ text: part, size: 10, font: "F1" });
  }
  return lines;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if ((line + " " + word).trim().length > width) { out.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  out.push(line);
  return out;
}

function escapePdf(text: string): string {
  return text.replace(/[\\()]/g, (c) => `\\${c}`);
}

function paginate(lines: Line[]): string[] {
  const pages: string[] = [];
  let y = PAGE.height - PAGE.margin;
  let ops: string[] = [];
  for (const line of lines) {
    const step = line.size * 1.45;
    if (y - step < PAGE.margin) { pages.push(ops.join("\n")); ops = []; y = PAGE.height - PAGE.margin; }
    y -= step;
    if (line.text) ops.push(`BT /${line.font} ${line.size} Tf ${PAGE.margin} ${y.toFixed(1)} Td (${escapePdf(line.text)}) Tj ET`);
  }
  pages.push(ops.join("\n"));
  return pages;
}

function buildPdf(pages: string[]): Buffer {
  const objects: string[] = [];
  const add = (body: string) => objects.push(body);
  add("<< /Type /Catalog /Pages 2 0 R >>");
  const kids = pages.map((_, i) => `${5 + i * 2} 0 R`).join(" ");
  add(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>");
  pages.forEach((content, i) => {
    add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${PAGE.width} ${PAGE.height}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents ${6 + i * 2} 0 R >>`);
    add(`<< /Length ${Buffer.byteLength(content, "latin1")} >>\nstream\n${content}\nendstream`);
  });
  let pdf = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => { offsets.push(Buffer.byteLength(pdf, "latin1")); pdf += `${i + 1} 0 obj\n${body}\nendobj\n`; });
  const xref = Buffer.byteLength(pdf, "latin1");
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, "0")} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}

const out = path.join(root, "public", "keysign-agreement.pdf");
writeFileSync(out, buildPdf(paginate(layout(source))));
console.log(`wrote ${path.relative(root, out)}`);
