// Colour classes for the chosen indicator. The legend and the polygons use the same `classify`, so they agree.
// - index_value: 红黄灰 from the configured thresholds (GET /api/v1/coverage/meta);
// - rates (0..1): five fixed classes of 20 %;
// - counts and numbers: five equal classes from 0 to a rounded maximum of the areas shown.
// Darker is better for indicators where higher is better (greens), darker is worse otherwise (reds).
export const NO_DATA = "#d9d9d9";
const GOOD = ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"];
const BAD = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
const INDEX = { grey: "#8a8f96", yellow: "#f2c037", red: "#d7301f" };

const percent = (v) => `${Math.round(v * 100)}%`;

function niceStep(max) {
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return Number.isInteger(max) && step < 1 ? 1 : step;
}

function ranges(breaks, colours, label) {
  // breaks: upper bounds of all classes but the last; class i is [breaks[i-1], breaks[i])
  return colours.map((color, i) => {
    const min = i === 0 ? -Infinity : breaks[i - 1];
    const max = i === breaks.length ? Infinity : breaks[i];
    return { min, max, color, label: label(i === 0 ? 0 : breaks[i - 1], max) };
  });
}

export function classesFor(field, values, thresholds) {
  let classes;
  if (field.name === "index_value") {
    classes = [
      { min: -Infinity, max: thresholds.yellow, color: INDEX.grey, label: `灰（< ${thresholds.yellow}）` },
      { min: thresholds.yellow, max: thresholds.red, color: INDEX.yellow, label: `黄（${thresholds.yellow}–${thresholds.red}）` },
      { min: thresholds.red, max: Infinity, color: INDEX.red, label: `红（≥ ${thresholds.red}）` },
    ];
  } else {
    const colours = field.higher_is_better ? GOOD : BAD;
    if (field.kind === "rate") {
      classes = ranges([0.2, 0.4, 0.6, 0.8], colours, (lo, hi) => (hi === Infinity ? `≥ ${percent(lo)}` : `${percent(lo)}–${percent(hi)}`));
    } else {
      const present = values.filter((v) => v !== null && v !== undefined);
      const max = present.length ? Math.max(...present) : 0;
      if (max <= 0) {
        classes = [{ min: -Infinity, max: Infinity, color: colours[0], label: "0" }];
      } else {
        const step = niceStep(max);
        const breaks = [1, 2, 3, 4].map((k) => +(k * step).toFixed(6));
        const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
        classes = ranges(breaks, colours, (lo, hi) => (hi === Infinity ? `≥ ${fmt(lo)}` : `${fmt(lo)}–${fmt(hi)}`));
      }
    }
  }
  const classify = (value) => {
    if (value === null || value === undefined) return -1;
    return classes.findIndex((c) => value >= c.min && value < c.max);
  };
  const colour = (value) => {
    const i = classify(value);
    return i < 0 ? NO_DATA : classes[i].color;
  };
  return { classes, classify, colour };
}
