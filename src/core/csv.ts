/**
 * CSV for spreadsheets. Every cell is quoted; a cell a spreadsheet would read as a
 * formula (starting with =, +, -, @, tab or carriage return) gets a leading apostrophe,
 * so user-supplied text such as a user ID can never run as a formula (CSV injection).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string | number | null): string {
  const text = value === null ? "" : String(value);
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return `"${safe.replace(/"/g, '""')}"`;
}

export function csvRow(values: ReadonlyArray<string | number | null>): string {
  return `${values.map(csvCell).join(",")}\r\n`;
}
