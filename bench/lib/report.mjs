// Text rendering of the benchmark results.

/**
 * Formats rows as a fixed-width text table. Each column is
 * `{ header, value: (row) => string | number, digits? }`. Numbers are
 * right-aligned with `digits` decimals, and text is left-aligned.
 */
export function formatTable(columns, rows) {
  const cells = rows.map((row) =>
    columns.map((column) => formatCell(column.value(row), column.digits)),
  );
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...cells.map((rowCells) => rowCells[i].text.length)),
  );

  const pad = (cell, width) =>
    cell.isNumber ? cell.text.padStart(width) : cell.text.padEnd(width);
  const headerLine = columns.map((column, i) => column.header.padEnd(widths[i])).join('  ');
  const ruleLine = widths.map((width) => '-'.repeat(width)).join('  ');
  const bodyLines = cells.map((rowCells) =>
    rowCells.map((cell, i) => pad(cell, widths[i])).join('  ').trimEnd(),
  );
  return [headerLine.trimEnd(), ruleLine, ...bodyLines].join('\n');
}

/** Formats the ratio a / b as "1.23x", or "n/a" when either side has no value. */
export function formatRatio(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return 'n/a';
  }
  return `${(a / b).toFixed(2)}x`;
}

function formatCell(value, digits = 1) {
  if (typeof value === 'number') {
    return { text: Number.isFinite(value) ? value.toFixed(digits) : 'n/a', isNumber: true };
  }
  return { text: String(value), isNumber: false };
}
