package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/envkms/kms/backend"
)

// TestCorruptKeyFile damages one key file in every way we can think of and
// checks that only that key fails, with a *FileError naming the file, while
// the other key, listing and reopening keep working.
func TestCorruptKeyFile(t *testing.T) {
	type damage func(t *testing.T, dir, path string, data []byte)
	write := func(content []byte) damage {
		return func(t *testing.T, _, path string, _ []byte) {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	edit := func(old, new string) damage {
		return func(t *testing.T, _, path string, data []byte) {
			if !bytes.Contains(data, []byte(old)) {
				t.Fatalf("test bug: %q not in key file", old)
			}
			write(bytes.Replace(data, []byte(old), []byte(new), 1))(t, "", path, nil)
		}
	}
	cases := map[string]damage{
		"empty":       write(nil),
		"truncated":   func(t *testing.T, _, p string, d []byte) { write(d[:len(d)/2])(t, "", p, nil) },
		"one byte":    func(t *testing.T, _, p string, d []byte) { write(d[:1])(t, "", p, nil) },
		"garbage":     write([]byte("\x00\xff\x13garbage\n")),
		"not object":  write([]byte(`[1,2,3]`)),
		"foreign":     write([]byte(`{"name":"some other tool's config"}`)),
		"trailing":    func(t *testing.T, _, p string, d []byte) { write(append(bytes.Clone(d), "{}"...))(t, "", p, nil) },
		"format":      edit(`"format": "envkms-local-key"`, `"format": "other"`),
		"version":     edit(`"format_version": 1`, `"format_version": 2`),
		"state":       edit(`"state": "Enabled"`, `"state": "Disabled"`),
		"bad state":   edit(`"state": "Enabled"`, `"state": "Weird"`),
		"description": edit(`"description": "victim"`, `"description": "edited"`),
		"usage":       edit(`"key_usage": "ENCRYPT_DECRYPT"`, `"key_usage": "SIGN"`),
		"mac":         edit(`"mac": "`, `"mac": "AAAA`),
		"no mac": func(t *testing.T, _, p string, d []byte) {
			i := bytes.Index(d, []byte(`,
  "mac"`))
			write(append(bytes.Clone(d[:i]), "\n}\n"...))(t, "", p, nil)
		},
		"sealed bytes": func(t *testing.T, _, p string, d []byte) {
			i := bytes.Index(d, []byte(`"sealed": "`)) + len(`"sealed": "`)
			d = bytes.Clone(d)
			if d[i] == 'A' {
				d[i] = 'B'
			} else {
				d[i] = 'A'
			}
			write(d)(t, "", p, nil)
		},
		"other key's file": func(t *testing.T, dir, p string, _ []byte) {
			data, err := os.ReadFile(filepath.Join(dir, "healthy.json"))
			if err != nil {
				t.Fatal(err)
			}
			write(data)(t, "", p, nil)
		},
		"directory": func(t *testing.T, _, p string, _ []byte) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		"symlink": func(t *testing.T, dir, p string, _ []byte) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(dir, "healthy.json"), p); err != nil {
				t.Skip(err)
			}
		},
		"huge": func(t *testing.T, _, p string, _ []byte) {
			if err := os.Truncate(p, maxKeyFileSize+1); err != nil {
				t.Fatal(err)
			}
		},
		"unreadable": func(t *testing.T, _, p string, _ []byte) {
			if os.Getuid() == 0 {
				t.Skip("root reads everything")
			}
			if err := os.Chmod(p, 0); err != nil {
				t.Fatal(err)
			}
		},
	}
	ctx := context.Background()
	for name, dmg := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b := openTest(t, testConfig(dir))
			mustCreate(t, b, "healthy")
			if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "victim", Description: "victim"}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.RotateKey(ctx, "victim"); err != nil {
				t.Fatal(err)
			}
			dk := mustGenerate(t, b, "healthy", nil)
			path := filepath.Join(dir, "victim.json")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dmg(t, dir, path, data)

			// A fresh Backend (nothing cached) on the damaged directory.
			b2 := openTest(t, testConfig(dir))
			_, err = b2.DescribeKey(ctx, "victim")
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != path {
				t.Fatalf("DescribeKey(victim) = %v, want *FileError for %s", err, path)
			}
			if errors.Is(err, backend.ErrKeyNotFound) {
				t.Fatal("a damaged key must not look absent")
			}
			if enc := base64.StdEncoding.EncodeToString(data[len(data)/2:][:12]); strings.Contains(err.Error(), enc) {
				t.Fatal("error quotes the file")
			}
			_, err = b2.GenerateDataKey(ctx, "victim", nil)
			if !errors.As(err, &fe) {
				t.Fatalf("GenerateDataKey(victim) = %v", err)
			}
			_, err = b2.RotateKey(ctx, "victim")
			if !errors.As(err, &fe) {
				t.Fatalf("RotateKey(victim) = %v", err)
			}
			// Everything else keeps working.
			if out, err := b2.Decrypt(ctx, dk.Ciphertext, nil); err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
				t.Fatalf("Decrypt(healthy) = %v", err)
			}
			mustGenerate(t, b2, "healthy", nil)
			mustCreate(t, b2, "zzz")
			res, err := b2.ListKeys(ctx, backend.ListKeysRequest{})
			if err != nil {
				t.Fatalf("ListKeys = %v", err)
			}
			var ids []string
			for _, k := range res.Keys {
				ids = append(ids, k.KeyID)
			}
			if strings.Join(ids, ",") != "healthy,zzz" {
				t.Fatalf("ListKeys = %v", ids)
			}
			if !slices.Equal(res.UnreadableKeyIDs, []string{"victim"}) {
				t.Fatalf("ListKeys UnreadableKeyIDs = %v, want [victim]", res.UnreadableKeyIDs)
			}
			// Paging moves past the damaged key: it counts towards the page.
			p1, err := b2.ListKeys(ctx, backend.ListKeysRequest{Limit: 2})
			if err != nil || len(p1.Keys) != 1 || !p1.Truncated || p1.NextMarker != "victim" || len(p1.UnreadableKeyIDs) != 1 {
				t.Fatalf("ListKeys(limit 2) = %+v, %v", p1, err)
			}
			p2, err := b2.ListKeys(ctx, backend.ListKeysRequest{Limit: 2, Marker: p1.NextMarker})
			if err != nil || len(p2.Keys) != 1 || p2.Keys[0].KeyID != "zzz" || p2.Truncated || len(p2.UnreadableKeyIDs) != 0 {
				t.Fatalf("ListKeys(after victim) = %+v, %v", p2, err)
			}
			if purged, err := b2.Purge(ctx); len(purged) != 0 || !errors.As(err, &fe) {
				t.Fatalf("Purge = %v, %v; want the file reported", purged, err)
			}
			// The damaged file was left alone.
			if name != "directory" && name != "symlink" && name != "huge" {
				if now, _ := os.ReadFile(path); name != "unreadable" && bytes.Equal(now, data) {
					t.Fatal("damage was undone?")
				}
			}
		})
	}
}

// TestNonKeyFilesIgnored: files that aren't <key id>.json don't disturb
// anything.
func TestNonKeyFilesIgnored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openTest(t, testConfig(dir))
	mustCreate(t, b, "k1")
	for _, name := range []string{"README", ".hidden.json", "bad name.json", ".tmp-123456", "k1.json.bak", "-x.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	b2 := openTest(t, testConfig(dir))
	res, err := b2.ListKeys(ctx, backend.ListKeysRequest{})
	if err != nil || len(res.Keys) != 1 || res.Keys[0].KeyID != "k1" {
		t.Fatalf("ListKeys = %+v, %v", res, err)
	}
	if purged, err := b2.Purge(ctx); err != nil || len(purged) != 0 {
		t.Fatalf("Purge = %v, %v", purged, err)
	}
}

// TestInsecureFileErrorsDontLeak: in an insecure directory key files hold
// plaintext material; errors about them must not quote it.
func TestInsecureFileErrorsDontLeak(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openTest(t, Config{Dir: dir, InsecurePlaintext: true})
	mustCreate(t, b, "k1")
	path := filepath.Join(dir, "k1.json")
	data, _ := os.ReadFile(path)
	i := bytes.Index(data, []byte(`"plaintext_key": "`)) + len(`"plaintext_key": "`)
	material := string(data[i : i+43])
	for _, bad := range [][]byte{
		bytes.Replace(data, []byte(`"plaintext_key": "`), []byte(`"plaintext_key": 7, "x": "`), 1),
		bytes.Replace(data, []byte(`"plaintext_key": "`), []byte(`"plaintext_key": "!`), 1),
		data[:i+20],
	} {
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		b2 := openTest(t, Config{Dir: dir, InsecurePlaintext: true})
		_, err := b2.DescribeKey(ctx, "k1")
		if err == nil {
			t.Fatal("damaged file loaded")
		}
		if strings.Contains(err.Error(), material[:16]) {
			t.Fatalf("error quotes key material: %v", err)
		}
	}
}
