// Package aggregator is the federation's coordinator.
//
// It relays the key ceremony (public-key shares, and Shamir shares it
// cannot read because each is age-encrypted to its recipient), announces
// rounds with a fresh nonce and the global model, checks every upload
// (signature, round, nonce, membership, the contributor's signed claim,
// shape and preset of the ciphertext) and folds it into one running sum as
// it arrives, so memory grows with the model and not with the number of
// hospitals. With at least min-contributors uploads it names a decryption
// set of exactly T online key holders, signs it together with the headers
// of the uploads summed, and combines their decryption shares; a key holder
// that fails is replaced by a new set, up to the cap on decryptions. It
// divides the decrypted sum by the public total weight, applies the server
// optimizer, writes a signed audit entry and a sealed checkpoint.
//
// The aggregator holds no key share: it sees ciphertexts, decryption shares
// and the decrypted aggregate only. It is honest-but-curious for
// confidentiality; the audit evidence does not rely on its honesty, since
// every hospital signs its own upload and ε claim.
//
// [Run] is the only entry point; it is not meant to be called concurrently
// for one federation.
package aggregator
