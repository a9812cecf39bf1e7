// Package stream encrypts and decrypts payloads in segments with
// AES-256-GCM, in exactly the streaming format of Tink's AES-GCM-HKDF
// streaming AEAD (key template AES256_GCM_HKDF_1MB by default), so any Tink
// implementation decrypts its output given the key and associated data, and
// this package decrypts Tink's. It adds random access (ReaderAt), size and
// range arithmetic, a zero-allocation steady state and optional parallelism
// (WithConcurrency).
//
// # Wire format
//
// The parameters are: key K (32 bytes), associated data A (any length, not
// stored), ciphertext segment size S (default DefaultSegmentSize, 1,048,576;
// MinSegmentSize <= S <= MaxSegmentSize, 57 <= S <= 2^30). All integers are
// big-endian.
//
//	ciphertext = header || segment_0 || segment_1 || ... || segment_(n-1)
//	header     = 0x28 || salt || prefix       (40 bytes; 0x28 = 40 = header length)
//	salt       = 32 random bytes
//	prefix     = 7 random bytes (nonce prefix)
//	stream key = HKDF-SHA256(IKM = K, salt = salt, info = A, L = 32)
//	nonce_i    = prefix || uint32(i) || last_i  (12 bytes)
//	last_i     = 0x01 if i == n-1, else 0x00
//	segment_i  = AES-256-GCM-Seal(stream key, nonce_i, plaintext_i, no AAD)
//	           = ciphertext of plaintext_i || 16-byte tag
//
// The plaintext is cut into n >= 1 segments: segment 0 holds S-40-16 bytes
// (the header and segment 0 together fill the first S bytes of ciphertext),
// every further segment S-16 bytes, and the last one whatever remains. A
// segment is full unless it is the last; writers seal a full final segment
// rather than an empty one after it, so the last segment is empty only for
// an empty plaintext (header and a 16-byte tag, 56 bytes). Readers also
// accept an empty last segment after full ones, as Tink does. There are at
// most 2^32-1 segments.
//
// So a ciphertext of C bytes has n = ceil(C/S) segments; segment i starts at
// byte i*S (40 for i = 0) and ends at min((i+1)*S, C). Plaintext byte p lives
// in segment (p+40)/(S-16). EncryptedSize, DecryptedSize, CiphertextRange and
// SegmentEnd do this arithmetic given S. The associated data is bound
// through the key derivation, not the GCM AAD.
//
// To decrypt: check the header length byte, derive the stream key, open every
// segment with its nonce, marking the segment that ends the ciphertext as
// last. Accept the plaintext only if every segment opens: a wrong key or
// associated data, a flipped bit, a reordered, duplicated, dropped or
// spliced segment, a truncation (the segment that now ends the stream was
// not sealed as last) and appended bytes (the real last segment is no
// longer at the end) all make some segment fail. FORMAT.md in this
// directory repeats this with test vectors (testdata/vectors.json).
//
// # Guarantees
//
// The decrypting Reader releases a segment's plaintext only after its tag
// verified, and returns io.EOF only after the last segment verified. Every
// authentication failure wraps ErrAuthentication. Errors are sticky. The
// writer and readers hold only the derived stream key (inside the cipher),
// never the caller's key.
//
// # Performance
//
// A stream costs about twenty allocations whatever its size (13 of them the
// two crypto/hmac states of its HKDF), and nothing per segment. Its segment
// buffer comes from an internal pool of size classes and grows with the
// object, up to one segment: a 4 KiB object holds a 5 KiB
// buffer, not a 1 MiB segment. A stream wipes whatever plaintext its buffer
// held before giving it back, when it is closed or read to its end, so a
// recycled buffer never holds plaintext of another stream; a stream dropped
// unfinished has it wiped when it is garbage collected. No option is
// needed for any of this (WithBufferPool only keeps a set of streams'
// buffers apart, in whole segments). Writes of
// whole segments are sealed straight from the caller's slice, reads of a
// whole segment or more are opened straight into it, and io.Copy (WriteTo)
// writes plaintext from the reader's buffer. Read copies ciphertext into a
// reader buffer before opening it; WriteTo from a bytes.Reader or
// bytes.Buffer opens whole segments where they lie, so the ciphertext is
// read once. WithConcurrency(n) uses n goroutines, the caller's among
// them: the whole segments of a large Write, and of WriteTo from a
// bytes.Reader or bytes.Buffer, are sealed or opened where they lie, every
// n-th segment by the same goroutine (the caller's goroutine takes its share
// rather than waiting); smaller Writes go through a pipeline sealed by the
// writer and n-1 workers; Read opens on n workers that take turns reading
// the next segment into their own buffers, so each segment is read and
// opened on the same core. Output order is preserved. A ReaderAt reads and
// opens one segment per touched segment and caches the last one, which
// Close wipes.
package stream
