/**
 * Text measured and cut in terminal columns: CJK and emoji take two, ANSI escapes none.
 */
import assert from "node:assert/strict";
import { cutToWidth, displayWidth, padToWidth } from "../../src/shared/text_width.ts";

Deno.test("displayWidth counts columns, not code units", () => {
  assert.equal(displayWidth("abc"), 3);
  assert.equal(displayWidth("数据库"), 6);
  assert.equal(displayWidth("💥"), 2);
  assert.equal(displayWidth("👩‍🔧"), 2, "a ZWJ sequence is one emoji");
  assert.equal(displayWidth("\x1b[31mred\x1b[39m"), 3, "ANSI escapes take no column");
});

Deno.test("cutToWidth cuts by columns, with or without an ellipsis, never inside a character", () => {
  assert.equal(cutToWidth("abcdef", 4), "abc…");
  assert.equal(cutToWidth("abcdef", 4, false), "abcd");
  assert.equal(cutToWidth("日本語テキスト", 7), "日本語…");
  assert.equal(cutToWidth("abc", 3), "abc", "text that fits is left alone");
  assert.equal(cutToWidth("abc", 0), "");
  // A wide character straddling the edge is left out: the cut is one column short.
  assert.equal(cutToWidth("a数据库", 4, false), "a数");
  assert.equal(cutToWidth("ab数据", 4), "ab…");
  for (let width = 1; width <= 12; width++) {
    for (const text of ["a数据库存储", "ab数据🎉x", "💥磁盘已满💥"]) {
      for (const ellipsis of [true, false]) {
        const cut = cutToWidth(text, width, ellipsis);
        assert.ok(displayWidth(cut) <= width, `${text} cut to ${width}: ${cut}`);
        assert.ok(
          displayWidth(cut) >= Math.min(width, displayWidth(text)) - 1,
          `${text} cut to ${width} loses at most one column`,
        );
      }
    }
  }
  // An emoji is never split into a lone surrogate.
  const emoji = cutToWidth("💥💥💥", 3, false);
  assert.equal(emoji, "💥");
  assert.ok(!/[\uD800-\uDFFF]/.test(emoji.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, "")));
});

Deno.test("padToWidth pads to columns, left or right", () => {
  assert.equal(padToWidth("数据", 6), "数据  ");
  assert.equal(padToWidth("数据", 6, "right"), "  数据");
  assert.equal(padToWidth("toolong", 3), "toolong", "never cuts");
});
