package s3srv

import "context"

// objectETag is the ETag (without quotes) to answer for a stored object, in
// GET/HEAD headers, listings, conditional requests and copy results. Every
// reader of an object's ETag goes through it.
func (s *Server) objectETag(_ context.Context, _, _ string, om objectMeta) (string, error) {
	return om.ETag, nil
}
