package text

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokens returns the tokens of s as [Transform] sees them (see the package documentation for
// the rules). It is for inspection and tests; featurization hashes the same tokens without
// building strings. ok is false, with no tokens, if s is not valid UTF-8.
func Tokens(s string) (tokens []string, ok bool) {
	ok = eachToken(s, func(tok []byte) { tokens = append(tokens, string(tok)) })
	return tokens, ok
}

// eachToken calls fn with each token of s in order; the slice is reused after fn returns. It
// reports false, calling fn never, if s is not valid UTF-8. Time and memory are linear in len(s).
func eachToken(s string, fn func(tok []byte)) bool {
	if !utf8.ValidString(s) {
		return false
	}
	// Compatibility decomposition: "é" (one code point or two), "ﬁ", "²" and full-width
	// letters become their base characters, so that equal text hashes equally.
	s = norm.NFKD.String(s)
	var (
		tok      []byte
		inNumber bool // the token's last character was a digit (written as one "0")
		base     rune // the last letter kept, whose script decides whether a mark is dropped
	)
	var composed []byte
	flush := func() {
		if len(tok) > 0 {
			// Recompose what the decomposition split and the marks kept (Hangul syllables,
			// Devanagari), so that a token is in NFC.
			composed = norm.NFC.Append(composed[:0], tok...)
			fn(composed)
			tok = tok[:0]
		}
		inNumber = false
	}
	for i, r := range s {
		switch {
		case isIdeograph(r):
			flush()
			tok = utf8.AppendRune(tok, r)
			flush()
		case unicode.IsDigit(r) || unicode.IsNumber(r):
			if !inNumber {
				tok = append(tok, '0')
				inNumber = true
			}
		case (r == '.' || r == ',') && inNumber && nextIsDigit(s[i+1:]):
			// a decimal point or thousands separator inside a number: "3.5", "1,000"
		case unicode.Is(unicode.Mn, r):
			// A nonspacing mark: an accent on a Latin, Greek or Cyrillic letter is dropped
			// ("é" → "e"); in other scripts (Devanagari's virama, Hebrew points) it is part of
			// the word.
			if len(tok) > 0 && !inNumber && !foldsAccents(base) {
				tok = utf8.AppendRune(tok, r)
			}
		case unicode.IsLetter(r) || unicode.IsMark(r):
			tok = utf8.AppendRune(tok, unicode.ToLower(r))
			inNumber = false
			base = r
		default:
			flush()
		}
	}
	flush()
	return true
}

// nextIsDigit reports whether s starts with a digit.
func nextIsDigit(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsDigit(r) || unicode.IsNumber(r)
}

// isIdeograph reports whether r is written without spaces between words and taken as a token
// of its own: Han (Chinese characters, Japanese kanji), Hiragana and Katakana.
func isIdeograph(r rune) bool {
	return r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r))
}

// foldsAccents reports whether marks on the letter r are dropped.
func foldsAccents(r rune) bool {
	return r < 0x80 || unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic)
}
