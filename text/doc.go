// Package text turns free text (clinical notes, abstracts) into the sparse input of the models in
// package model: tokenization, hashed n-grams and term weighting. It fits nothing on data except,
// when asked, IDF weights, which it keeps apart so that a federation can take them from document
// frequencies released with differential privacy instead.
//
// # Tokens
//
// A document must be valid UTF-8. It is brought to compatibility decomposition (NFKD: "ﬁ" → "fi",
// full-width letters to ASCII, "²" → "2", "é" → "e" + U+0301), then cut into tokens, each of
// which is given back in NFC:
//
//   - a token is a maximal run of letters, digits and marks, lower-cased (Unicode simple case
//     mapping; "ß" stays "ß");
//   - accents are folded: a nonspacing mark on a Latin, Greek or Cyrillic letter is dropped, so
//     "Ménière", "Me\u0301nie\u0300re" and "Meniere" are one token. In other scripts marks are part
//     of the word (Devanagari's vowel signs and virama, Hebrew points);
//   - numbers are normalised: each run of digits, with the points and commas between its digits
//     ("3.5", "1,000"), is written "0", so "47-year-old" is "0" "year" "old" and "p53" is "p0";
//   - each Han, Hiragana or Katakana character is a token of its own (these scripts put no spaces
//     between words; unigrams and bigrams of characters are the usual substitute for a word
//     segmenter); Hangul, which separates words by spaces, is cut like Latin script. Thai, Lao and
//     Khmer runs, unsegmented, are one token each: a known limit;
//   - everything else (spaces, punctuation, symbols) separates tokens.
//
// This is a simplification of Unicode word segmentation (UAX #29): apostrophes and hyphens split
// words ("Ménière's" → "meniere" "s"). Work and memory are linear in the document's length.
//
// # Hashed n-grams
//
// The unigrams and, with NGrams 2, the bigrams of adjacent tokens are hashed into Buckets columns
// (the hashing trick: Weinberger, Dasgupta, Langford, Smola & Attenberg 2009, "Feature Hashing for
// Large Scale Multitask Learning", ICML), with FNV-1a 64 salted by a seed fixed in the [Config]:
//
//	h = FNV-1a-64(seed as 8 bytes LE ‖ n ‖ token₁ [‖ 0x00 ‖ token₂]),  bucket = ⌊h · Buckets / 2⁶⁴⌋
//
// Repeated n-grams, and n-grams that collide in one bucket, are merged into one entry whose value
// is their count ([Transform.Counts]). No vocabulary is learnt: two hospitals hash the same word
// into the same bucket without exchanging anything.
//
// # Weights
//
// [Transform.Weight] turns counts into the model's input, per entry then per document:
//
//	w = tf,  or 1 + ln tf (Sublinear)
//	w ← w · idf_j,  idf_j = ln((1 + n)/(1 + df_j)) + 1   (IDF; df_j documents of n contain bucket j)
//	l2:   w ← w / ‖w‖₂    (softmax regression: every document has norm 1)
//	mean: w ← w / Σ w     (embedding bag: the weighted mean of the token embeddings)
//
// IDF weights come from [Transform.FitIDF] on the training rows, for central non-private
// training, or from [Transform.SetIDF] with document frequencies from elsewhere (a DP release;
// [DocumentFrequencies] is the statistic; counting each document in at most k buckets bounds its
// L2 sensitivity by √k).
// Without IDF, nothing in a [Transform] depends on data.
//
// # Privacy
//
// Errors name a document by its index and never quote its text. A [Transform] holds the Config
// and, with IDF, one weight per bucket: a function of document frequencies that reveals which
// buckets occur in how many training documents, so a model trained with DP and shipped with IDF
// fitted on the same rows is not covered by the DP guarantee. `fedcrypt train --dp` therefore
// turns IDF off.
package text
