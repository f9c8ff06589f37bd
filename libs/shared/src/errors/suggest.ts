/** Levenshtein distance, with a swap of two neighbours counted as one edit ("promt" → "prompt" is 1, "dependson" → "depends_on" 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate a typo most likely meant, or undefined when none is close: within a third of the word's
 * length (at least 1, at most 3 edits, and under half the word), compared without case, "-" or "_" so `dependsOn` finds `depends_on`.
 */
export function nearestName(word: string, candidates: Iterable<string>): string | undefined {
  const fold = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const folded = fold(word);
  const allowed = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = fold(candidate) === folded ? 0 : editDistance(folded, fold(candidate));
    // Half the word changed is a different word: "c" is not a typo of "a".
    if (distance <= allowed && distance * 2 < word.length && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

/** `did you mean "prompt"?`, the one wording every suggestion uses. */
export const didYouMean = (suggestion: string): string => `did you mean "${suggestion}"?`;
