// Package backendtest is the conformance suite every backend.Backend must
// pass, ours (local, vault) and users' own:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Backend {
//			b, err := mybackend.New(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { b.Close() })
//			return b
//		})
//	}
//
// Run calls newBackend once per subtest. The backends it returns may share
// state (e.g. one Vault server): the suite never assumes an empty backend,
// uses key ids with a random per-run prefix, and never deletes keys it did
// not create. It keeps loops small so it also runs quickly over HTTP, and it
// is meant to run under -race.
//
// A backend whose ciphertexts name their key version may implement
// [VersionInspector]; the suite then also checks that new data keys and
// Rewrap use the newest version.
package backendtest
