package local

// Test vectors of the local backend's persisted formats (FORMAT.md): key
// directories in testdata/keydir-v1-* written once by the code of format
// version 1, and testdata/vectors.json listing every secret needed to read
// them (master key, derived keys, key material, data keys).
//
// TestFormatVectors reads them with today's code (New, DescribeKey, Decrypt)
// and with fvRef*, a decoder written from FORMAT.md alone. The files are
// written once, by
//
//	LOCAL_UPDATE_TESTDATA=1 go test -run TestFormatVectors ./local/
//
// which refuses to overwrite existing vectors: stored key directories must
// stay readable, so a new format version gets new vector files beside these.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"github.com/envkms/kms/backend"
)

const fvVectorsFile = "testdata/vectors.json"

// fvVectors is testdata/vectors.json.
type fvVectors struct {
	Comment string     `json:"comment"`
	KeyDirs []fvKeyDir `json:"key_dirs"`
}

// fvKeyDir is one key directory and everything needed to read it.
type fvKeyDir struct {
	Name string `json:"name"`
	Dir  string `json:"dir"` // under testdata/
	// MasterKey is the master key (its UTF-8 bytes); "" for an insecure
	// (plaintext) directory.
	MasterKey string `json:"master_key"`
	// RootKey is Argon2id(master key, salt, parameters of .keydir.json);
	// SealKey and MACKey are derived from it with HKDF-SHA256 (hex).
	RootKey  string      `json:"root_key,omitempty"`
	SealKey  string      `json:"seal_key,omitempty"`
	MACKey   string      `json:"mac_key,omitempty"`
	Keys     []fvKey     `json:"keys"`
	DataKeys []fvDataKey `json:"data_keys"`
}

type fvKey struct {
	KeyID        string            `json:"key_id"`
	Description  string            `json:"description,omitempty"`
	State        backend.KeyState  `json:"state"`
	CreationDate time.Time         `json:"creation_date"`
	DeletionDate *time.Time        `json:"deletion_date,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Versions     []fvVersion       `json:"versions"`
}

type fvVersion struct {
	Version  int    `json:"version"`
	Material string `json:"material"` // hex of the 32-byte AES-256-GCM key
}

// fvDataKey is one wrapped data key.
type fvDataKey struct {
	Name             string            `json:"name"`
	KeyID            string            `json:"key_id"`
	Version          int               `json:"version"`
	Context          map[string]string `json:"encryption_context"`
	CanonicalContext string            `json:"canonical_context"` // the bytes authenticated, as a string
	Plaintext        string            `json:"plaintext"`         // hex
	Ciphertext       string            `json:"ciphertext"`        // hex
	// DecryptError names the error Decrypt returns instead of the plaintext
	// ("pending_deletion": the key is pending deletion). The reference
	// decoder still opens it.
	DecryptError string `json:"decrypt_error,omitempty"`
}

// fvKDF are the Argon2id parameters of the sealed vector directory: cheap, and
// with every parameter above its minimum.
var fvKDF = KDFParams{Time: 2, MemoryKiB: 256, Threads: 2}

const fvMasterKey = "envkms local test-vector master key (public, never use it)"

// fvEpoch is the clock of the generator.
var fvEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// TestFormatVectors reads every checked-in key directory and data key with
// today's code and with the reference decoder of FORMAT.md.
func TestFormatVectors(t *testing.T) {
	if os.Getenv("LOCAL_UPDATE_TESTDATA") == "1" {
		fvWrite(t)
	}
	vs := fvLoad(t)
	require.Len(t, vs.KeyDirs, 2)
	for _, kd := range vs.KeyDirs {
		t.Run(kd.Name, func(t *testing.T) {
			fvCheckAPI(t, kd)
			fvCheckReference(t, kd)
		})
	}
}

func fvLoad(t *testing.T) fvVectors {
	t.Helper()
	raw, err := os.ReadFile(fvVectorsFile)
	require.NoError(t, err)
	var vs fvVectors
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&vs))
	return vs
}

func fvUnhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// fvCopy copies testdata/<dir> into a private temporary directory (git does
// not keep modes, and New may clean up there).
func fvCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.Mkdir(dst, 0o700))
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600))
	}
	return dst
}

func fvConfig(kd fvKeyDir, dir string) Config {
	if kd.MasterKey == "" {
		return Config{Dir: dir, InsecurePlaintext: true}
	}
	return Config{Dir: dir, MasterKey: []byte(kd.MasterKey)}
}

// fvCheckAPI opens a copy of the directory with New and checks metadata,
// every data key, and that damage fails with the documented errors.
func fvCheckAPI(t *testing.T, kd fvKeyDir) {
	ctx := context.Background()
	dir := fvCopy(t, kd.Dir)
	b, err := New(ctx, fvConfig(kd, dir))
	require.NoError(t, err)
	defer b.Close()

	list, err := b.ListKeys(ctx, backend.ListKeysRequest{})
	require.NoError(t, err)
	var ids []string
	for _, k := range list.Keys {
		ids = append(ids, k.KeyID)
	}
	var want []string
	for _, k := range kd.Keys {
		want = append(want, k.KeyID)
	}
	slices.Sort(want)
	require.Equal(t, want, ids)
	for _, k := range kd.Keys {
		md, err := b.DescribeKey(ctx, k.KeyID)
		require.NoError(t, err)
		require.Equal(t, k.State, md.State, k.KeyID)
		require.Equal(t, k.Description, md.Description, k.KeyID)
		require.Equal(t, len(k.Versions), md.Version, k.KeyID)
		require.Equal(t, backend.KeyUsageEncryptDecrypt, md.KeyUsage, k.KeyID)
		require.True(t, k.CreationDate.Equal(md.CreationDate), k.KeyID)
		if k.DeletionDate == nil {
			require.Nil(t, md.DeletionDate, k.KeyID)
		} else {
			require.NotNil(t, md.DeletionDate, k.KeyID)
			require.True(t, k.DeletionDate.Equal(*md.DeletionDate), k.KeyID)
		}
		if len(k.Tags) == 0 {
			require.Empty(t, md.Tags, k.KeyID)
		} else {
			require.Equal(t, k.Tags, md.Tags, k.KeyID)
		}
	}

	for _, v := range kd.DataKeys {
		ct := fvUnhex(t, v.Ciphertext)
		ec := backend.EncryptionContext(v.Context)
		require.Equal(t, v.CanonicalContext, string(ec.Canonical()), v.Name)
		id, ver, err := b.CiphertextVersion(ct)
		require.NoError(t, err, v.Name)
		require.Equal(t, v.KeyID, id, v.Name)
		require.Equal(t, v.Version, ver, v.Name)
		dk, err := b.Decrypt(ctx, ct, ec)
		switch v.DecryptError {
		case "":
			require.NoError(t, err, v.Name)
			require.Equal(t, v.KeyID, dk.KeyID, v.Name)
			require.Equal(t, fvUnhex(t, v.Plaintext), dk.Plaintext, v.Name)
		case "pending_deletion":
			require.ErrorIs(t, err, backend.ErrKeyPendingDeletion, v.Name)
			continue
		default:
			t.Fatalf("%s: unknown decrypt_error %q", v.Name, v.DecryptError)
		}

		// Another context fails; so does any flipped byte: the header
		// names a key or version that doesn't exist or is malformed, or
		// the tag fails.
		_, err = b.Decrypt(ctx, ct, backend.EncryptionContext{"other": "context"})
		require.ErrorIs(t, err, backend.ErrInvalidCiphertext, v.Name)
		for i := range ct {
			bad := bytes.Clone(ct)
			bad[i] ^= 0x01
			_, err := b.Decrypt(ctx, bad, ec)
			require.Error(t, err, "%s: byte %d", v.Name, i)
			if !errors.Is(err, backend.ErrInvalidCiphertext) {
				require.ErrorIs(t, err, backend.ErrKeyNotFound, "%s: byte %d", v.Name, i)
			}
		}
		_, err = b.Decrypt(ctx, ct[:len(ct)-1], ec)
		require.ErrorIs(t, err, backend.ErrInvalidCiphertext, v.Name)
	}
	require.NoError(t, b.Close())

	// The directory refuses the other protection mode, and a sealed one a
	// wrong master key.
	other := Config{Dir: dir, InsecurePlaintext: true}
	if kd.MasterKey == "" {
		other = Config{Dir: dir, MasterKey: []byte("some master key")}
	}
	_, err = New(ctx, other)
	require.ErrorIs(t, err, ErrProtectionMismatch)
	if kd.MasterKey != "" {
		_, err = New(ctx, Config{Dir: dir, MasterKey: []byte(kd.MasterKey + "x")})
		require.ErrorIs(t, err, ErrWrongMasterKey)
	}

	// An unknown format version, in the header or in a key file, is
	// ErrCorruptFile (for New, or for that key only).
	hdr, err := os.ReadFile(filepath.Join(dir, headerName))
	require.NoError(t, err)
	v2 := bytes.Replace(hdr, []byte(`"format_version": 1`), []byte(`"format_version": 2`), 1)
	require.NotEqual(t, hdr, v2)
	require.NoError(t, os.WriteFile(filepath.Join(dir, headerName), v2, 0o600))
	_, err = New(ctx, fvConfig(kd, dir))
	require.ErrorIs(t, err, ErrCorruptFile)
	require.NoError(t, os.WriteFile(filepath.Join(dir, headerName), hdr, 0o600))

	id := ""
	for _, k := range kd.Keys {
		if k.State == backend.KeyStateEnabled {
			id = k.KeyID
			break
		}
	}
	path := filepath.Join(dir, id+keyFileExt)
	orig, err := os.ReadFile(path)
	require.NoError(t, err)
	edits := map[string][]byte{
		"format version 2": bytes.Replace(orig, []byte(`"format_version": 1`), []byte(`"format_version": 2`), 1),
		"state edited":     bytes.Replace(orig, []byte(`"state": "Enabled"`), []byte(`"state": "Disabled"`), 1),
	}
	for name, data := range edits {
		require.NotEqual(t, orig, data, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		b, err := New(ctx, fvConfig(kd, dir))
		require.NoError(t, err, name)
		_, err = b.DescribeKey(ctx, id)
		var fe *FileError
		if name == "state edited" && kd.MasterKey == "" {
			// Unsealed directories have no MAC: an edit is just an edit.
			require.NoError(t, err, name)
		} else {
			require.ErrorAs(t, err, &fe, name)
			require.ErrorIs(t, err, ErrCorruptFile, name)
		}
		require.NoError(t, b.Close())
	}
	require.NoError(t, os.WriteFile(path, orig, 0o600))
}

// --- Reference decoder: FORMAT.md, independent of the package's code. ---

// fvRefKeys derives the root, sealing and MAC keys of a sealed directory
// and checks the header's verifier.
func fvRefKeys(t *testing.T, hdr map[string]any, masterKey string) (root, sealKey, macKey []byte) {
	t.Helper()
	kdf := hdr["kdf"].(map[string]any)
	require.Equal(t, "argon2id", kdf["alg"])
	salt, err := base64.StdEncoding.DecodeString(kdf["salt"].(string))
	require.NoError(t, err)
	require.Len(t, salt, 32)
	tm, mem, thr := uint32(kdf["time"].(float64)), uint32(kdf["memory_kib"].(float64)), uint8(kdf["threads"].(float64))
	root = argon2.IDKey([]byte(masterKey), salt, tm, mem, thr, 32)
	sealKey, err = hkdf.Key(sha256.New, root, nil, "envkms/local/v1/seal-key", 32)
	require.NoError(t, err)
	macKey, err = hkdf.Key(sha256.New, root, nil, "envkms/local/v1/mac-key", 32)
	require.NoError(t, err)

	aad := []byte("envkms/local/v1/verifier\x00argon2id\x00")
	aad = binary.BigEndian.AppendUint32(aad, tm)
	aad = binary.BigEndian.AppendUint32(aad, mem)
	aad = append(aad, thr, byte(len(salt)))
	aad = append(aad, salt...)
	verifier, err := base64.StdEncoding.DecodeString(hdr["verifier"].(string))
	require.NoError(t, err)
	pt := fvRefOpen(t, sealKey, verifier, aad)
	require.Equal(t, "envkms local key directory verifier v1", string(pt))
	return root, sealKey, macKey
}

// fvRefOpen opens nonce(12) || AES-256-GCM ciphertext || tag(16).
func fvRefOpen(t *testing.T, key, sealed, aad []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(sealed), 12+16)
	pt, err := gcm.Open(nil, sealed[:12], sealed[12:], aad)
	require.NoError(t, err)
	return pt
}

// fvRefMACInput is what a key file's MAC covers: the file's JSON object in
// compact form, members in file order, without its final "mac" member.
func fvRefMACInput(t *testing.T, file []byte) (input, mac []byte) {
	t.Helper()
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, file))
	c := compact.Bytes()
	i := bytes.LastIndex(c, []byte(`,"mac":"`))
	require.Positive(t, i)
	require.True(t, bytes.HasSuffix(c, []byte(`"}`)))
	mac, err := base64.StdEncoding.DecodeString(string(c[i+len(`,"mac":"`) : len(c)-2]))
	require.NoError(t, err)
	return append(bytes.Clone(c[:i]), '}'), mac
}

func fvCheckReference(t *testing.T, kd fvKeyDir) {
	dir := filepath.Join("testdata", kd.Dir)
	raw, err := os.ReadFile(filepath.Join(dir, ".keydir.json"))
	require.NoError(t, err)
	var hdr map[string]any
	require.NoError(t, json.Unmarshal(raw, &hdr))
	require.Equal(t, "envkms-local-keydir", hdr["format"])
	require.Equal(t, 1.0, hdr["format_version"])
	sealed := kd.MasterKey != ""
	var sealKey, macKey []byte
	if sealed {
		require.Equal(t, "argon2id+aes-256-gcm", hdr["protection"])
		var root []byte
		root, sealKey, macKey = fvRefKeys(t, hdr, kd.MasterKey)
		require.Equal(t, kd.RootKey, hex.EncodeToString(root))
		require.Equal(t, kd.SealKey, hex.EncodeToString(sealKey))
		require.Equal(t, kd.MACKey, hex.EncodeToString(macKey))
	} else {
		require.Equal(t, "none", hdr["protection"])
		require.NotContains(t, hdr, "kdf")
	}

	material := map[string][][]byte{} // key id -> version-1 -> key
	for _, k := range kd.Keys {
		file, err := os.ReadFile(filepath.Join(dir, k.KeyID+".json"))
		require.NoError(t, err)
		var f struct {
			Format        string `json:"format"`
			FormatVersion int    `json:"format_version"`
			KeyID         string `json:"key_id"`
			KeyUsage      string `json:"key_usage"`
			State         string `json:"state"`
			Versions      []struct {
				Version   int    `json:"version"`
				Sealed    []byte `json:"sealed"`
				Plaintext []byte `json:"plaintext_key"`
			} `json:"versions"`
		}
		require.NoError(t, json.Unmarshal(file, &f))
		require.Equal(t, "envkms-local-key", f.Format)
		require.Equal(t, 1, f.FormatVersion)
		require.Equal(t, k.KeyID, f.KeyID)
		require.Equal(t, "ENCRYPT_DECRYPT", f.KeyUsage)
		require.Equal(t, string(k.State), f.State)
		if sealed {
			in, mac := fvRefMACInput(t, file)
			h := hmac.New(sha256.New, macKey)
			h.Write([]byte("envkms/local/v1/key-file\x00"))
			h.Write(in)
			require.Equal(t, h.Sum(nil), mac, "%s: MAC", k.KeyID)
		} else {
			require.NotContains(t, string(file), `"mac"`)
		}
		require.Len(t, f.Versions, len(k.Versions))
		for i, v := range f.Versions {
			require.Equal(t, i+1, v.Version)
			var m []byte
			if sealed {
				aad := append([]byte("envkms/local/v1/key-material\x00"), byte(len(k.KeyID)))
				aad = append(aad, k.KeyID...)
				aad = binary.BigEndian.AppendUint32(aad, uint32(v.Version))
				require.Len(t, v.Sealed, 60)
				m = fvRefOpen(t, sealKey, v.Sealed, aad)
			} else {
				m = v.Plaintext
			}
			require.Len(t, m, 32)
			require.Equal(t, k.Versions[i].Material, hex.EncodeToString(m), "%s v%d", k.KeyID, v.Version)
			material[k.KeyID] = append(material[k.KeyID], m)
		}
	}

	for _, v := range kd.DataKeys {
		ct := fvUnhex(t, v.Ciphertext)
		require.Equal(t, byte(0x4c), ct[0])
		require.Equal(t, byte(0x01), ct[1])
		n := int(ct[2])
		require.Len(t, ct, 3+n+4+12+48, v.Name)
		id := string(ct[3 : 3+n])
		ver := int(binary.BigEndian.Uint32(ct[3+n:]))
		require.Equal(t, v.KeyID, id)
		require.Equal(t, v.Version, ver)
		hdrLen := 3 + n + 4
		aad := append([]byte("envkms/local/v1/data-key\x00"), ct[:hdrLen]...)
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(v.CanonicalContext)))
		aad = append(aad, v.CanonicalContext...)
		pt := fvRefOpen(t, material[id][ver-1], ct[hdrLen:], aad)
		require.Equal(t, v.Plaintext, hex.EncodeToString(pt), v.Name)
	}
}

// --- Generator (run once per format version). ---

// fvWrite writes the vector directories and vectors.json with today's code,
// deterministically (fixed randomness and clock), refusing to overwrite.
func fvWrite(t *testing.T) {
	for _, p := range []string{fvVectorsFile, "testdata/keydir-v1-sealed", "testdata/keydir-v1-insecure"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s exists: vectors are written once; add a new format version's vectors beside them", p)
		}
	}
	cryptotest.SetGlobalRandom(t, 1)
	vs := fvVectors{
		Comment: "Test vectors of the local backend's key directory and data-key formats, version 1 " +
			"(local/FORMAT.md). Every secret is public: never use these keys. Byte strings are hex.",
	}
	vs.KeyDirs = append(vs.KeyDirs, fvGenerate(t, "sealed", "keydir-v1-sealed", false))
	vs.KeyDirs = append(vs.KeyDirs, fvGenerate(t, "insecure (plaintext, development only)", "keydir-v1-insecure", true))
	out, err := json.MarshalIndent(vs, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(fvVectorsFile, append(out, '\n'), 0o644))
}

func fvGenerate(t *testing.T, name, dirName string, insecure bool) fvKeyDir {
	ctx := context.Background()
	dir, err := filepath.Abs(filepath.Join("testdata", dirName))
	require.NoError(t, err)
	now := fvEpoch
	cfg := Config{Dir: dir, Now: func() time.Time { return now }}
	kd := fvKeyDir{Name: name, Dir: dirName}
	if insecure {
		cfg.InsecurePlaintext = true
	} else {
		cfg.MasterKey = []byte(fvMasterKey)
		cfg.KDF = &fvKDF
		kd.MasterKey = fvMasterKey
	}
	b, err := New(ctx, cfg)
	require.NoError(t, err)
	defer b.Close()

	gen := func(name, id string, ec backend.EncryptionContext) {
		dk, err := b.GenerateDataKey(ctx, id, ec)
		require.NoError(t, err)
		_, ver, err := b.CiphertextVersion(dk.Ciphertext)
		require.NoError(t, err)
		kd.DataKeys = append(kd.DataKeys, fvDataKey{
			Name: name, KeyID: id, Version: ver, Context: ec, CanonicalContext: string(ec.Canonical()),
			Plaintext: hex.EncodeToString(dk.Plaintext), Ciphertext: hex.EncodeToString(dk.Ciphertext),
		})
	}
	if insecure {
		_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "dev"})
		require.NoError(t, err)
		gen("insecure directory", "dev", backend.EncryptionContext{"bucket": "b"})
	} else {
		_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "vector-key", Description: "test vector key",
			Tags: map[string]string{"team": "storage", "env": "test"}})
		require.NoError(t, err)
		gen("empty encryption context, version 1", "vector-key", backend.EncryptionContext{})
		gen("S3 object context, version 1", "vector-key", backend.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object"})
		now = now.Add(time.Hour)
		_, err = b.RotateKey(ctx, "vector-key")
		require.NoError(t, err)
		gen("escaped context (HTML-safe JSON, non-ASCII), version 2", "vector-key",
			backend.EncryptionContext{"app": `<a href="x">&</a>`, "ünïcödé": "日本\u2028", "z": "tab\there"})

		_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "disabled.key_1"})
		require.NoError(t, err)
		gen("disabled key (still decrypts)", "disabled.key_1", backend.EncryptionContext{"k": "v"})
		require.NoError(t, b.DisableKey(ctx, "disabled.key_1"))

		_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "pending-deletion"})
		require.NoError(t, err)
		gen("key pending deletion (Decrypt refuses)", "pending-deletion", backend.EncryptionContext{"k": "v"})
		kd.DataKeys[len(kd.DataKeys)-1].DecryptError = "pending_deletion"
		_, err = b.ScheduleKeyDeletion(ctx, "pending-deletion", 7)
		require.NoError(t, err)
	}
	require.NoError(t, b.Close())

	// Record key material and derived keys, read back with today's code.
	data, err := os.ReadFile(filepath.Join(dir, headerName))
	require.NoError(t, err)
	keys, err := openHeader(context.Background(), filepath.Join(dir, headerName), data, &cfg)
	require.NoError(t, err)
	if keys != nil {
		h, err := parseHeader("", data, false)
		require.NoError(t, err)
		root := argon2.IDKey(cfg.MasterKey, h.KDF.Salt, h.KDF.Time, h.KDF.MemoryKiB, h.KDF.Threads, keySize)
		sk, err := hkdf.Key(sha256.New, root, nil, labelSeal, keySize)
		require.NoError(t, err)
		kd.RootKey, kd.SealKey, kd.MACKey = hex.EncodeToString(root), hex.EncodeToString(sk), hex.EncodeToString(keys.mac)
	}
	b2 := &Backend{dir: dir, keys: keys}
	ids, err := b2.listIDs()
	require.NoError(t, err)
	for _, id := range ids {
		f, err := b2.readKeyFile(id)
		require.NoError(t, err)
		k := fvKey{KeyID: id, Description: f.Description, State: f.State, CreationDate: f.CreationDate, DeletionDate: f.DeletionDate, Tags: f.Tags}
		for _, v := range f.Versions {
			m := v.Plaintext
			if keys != nil {
				m, err = open(keys.seal, v.Sealed, materialAAD(id, v.Version))
				require.NoError(t, err)
			}
			k.Versions = append(k.Versions, fvVersion{Version: v.Version, Material: hex.EncodeToString(m)})
		}
		kd.Keys = append(kd.Keys, k)
	}
	// Keys in key id order, as ListKeys returns them.
	slices.SortFunc(kd.Keys, func(a, b fvKey) int { return strings.Compare(a.KeyID, b.KeyID) })
	return kd
}
