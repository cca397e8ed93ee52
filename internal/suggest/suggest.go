// Package suggest finds the name a misspelt one was meant to be: a flag of
// ecc or ecli, a command, a program flag of a package. It measures with
// Jaro-Winkler similarity (xrash/smetrics) and the constants urfave/cli
// uses for its own suggestions, so every "did you mean" of both tools
// comes from one measure; unlike urfave/cli it proposes nothing when no
// name is close.
package suggest

import (
	"slices"

	"github.com/xrash/smetrics"
)

// The constants of urfave/cli's suggestions (suggestions.go).
const (
	boostThreshold = 0.7
	prefixSize     = 4
)

// MinSimilarity is how similar (0..1) a candidate must be to be proposed:
// "duraton" is 0.97 from "duration", "bulid" 0.95 from "build", "pidd"
// 0.94 from "pid", while "version" is 0.82 from "verbose" and "uid" 0.78
// from "pid". (smetrics matches letters within half the length of the
// longer string, less one: in three letters a swap, "pdi", goes unseen;
// Closest catches those.)
const MinSimilarity = 0.85

// Similarity is the Jaro-Winkler similarity of a and b as urfave/cli
// computes it: 1 for equal strings, 0 for nothing in common.
func Similarity(a, b string) float64 {
	return smetrics.JaroWinkler(a, b, boostThreshold, prefixSize)
}

// Closest returns the candidate most similar to provided, the first of
// equals, or "" when none reaches MinSimilarity; failing that, a candidate
// made of the same letters in another order ("rnu" for "run", which the
// measure misses in short words). A single character is never matched: one
// letter cannot be told apart from another by a typo.
func Closest(provided string, candidates ...string) string {
	if len([]rune(provided)) < 2 {
		return ""
	}
	best, bestScore := "", MinSimilarity
	for _, c := range candidates {
		if c == provided {
			continue
		}
		if s := Similarity(provided, c); s >= bestScore && (best == "" || s > bestScore) {
			best, bestScore = c, s
		}
	}
	if best != "" {
		return best
	}
	letters := sorted(provided)
	for _, c := range candidates {
		if c != provided && sorted(c) == letters {
			return c
		}
	}
	return ""
}

func sorted(s string) string {
	r := []rune(s)
	slices.Sort(r)
	return string(r)
}
