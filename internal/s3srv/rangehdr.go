package s3srv

import (
	"strconv"
	"strings"
)

// byteRange is a satisfiable range [Start, Start+Length) of an object.
type byteRange struct {
	Start, Length int64
}

// parseRange interprets an HTTP Range header against an object of size
// bytes, as S3 does: "bytes=a-b", "bytes=a-" and the suffix form "bytes=-n".
// ok is false when the header is absent or not a single byte range (S3 then
// returns the whole object); err is InvalidRange (416) when it is well formed
// but unsatisfiable.
func parseRange(h string, size int64) (r byteRange, ok bool, err *Error) {
	if h == "" {
		return r, false, nil
	}
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return r, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return r, false, nil
	}
	if first == "" { // suffix: the last n bytes
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n < 0 {
			return r, false, nil
		}
		if n == 0 || size == 0 {
			return r, false, errInvalidRange()
		}
		n = min(n, size)
		return byteRange{Start: size - n, Length: n}, true, nil
	}
	start, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || start < 0 {
		return r, false, nil
	}
	end := size - 1
	if last != "" {
		e, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || e < start {
			return r, false, nil
		}
		end = min(e, size-1)
	}
	if start >= size {
		return r, false, errInvalidRange()
	}
	return byteRange{Start: start, Length: end - start + 1}, true, nil
}
