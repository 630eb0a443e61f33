package reports

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"shutdowntest/load"
)

// TestDecodeHistRefusesWhatTheToolDoesNotWrite: a histogram of another
// range (whose counts hdrhistogram would make as its header asks, and
// whose values a merge would drop), or one that decompresses to more than
// any histogram of the tool's, is refused before Decode allocates for it;
// the tool's own is read.
func TestDecodeHistRefusesWhatTheToolDoesNotWrite(t *testing.T) {
	own := load.NewRateHist()
	_ = own.RecordValue(1500)
	if h, err := decodeHist(encodeHist(own)); err != nil || h.TotalCount() != 1 {
		t.Fatalf("the tool's own histogram: %v, %v", h, err)
	}

	wide := hdrhistogram.New(1, 1<<40, 5)
	_ = wide.RecordValue(1500)
	if _, err := decodeHist(encodeHist(wide)); err == nil || !strings.Contains(err.Error(), "not the 1 to") {
		t.Errorf("a histogram of another range: %v, want it refused for its range", err)
	}

	// The V2 compressed form around a body of 2 MiB: a header of the
	// tool's range and a payload of zeros, which compress to little.
	body := make([]byte, 40+2<<20)
	binary.BigEndian.PutUint32(body[0:4], uint32(hdrhistogram.V2EncodingCookieBase))
	binary.BigEndian.PutUint32(body[4:8], uint32(len(body)-40))
	binary.BigEndian.PutUint32(body[12:16], uint32(own.SignificantFigures()))
	binary.BigEndian.PutUint64(body[16:24], uint64(own.LowestTrackableValue()))
	binary.BigEndian.PutUint64(body[24:32], uint64(own.HighestTrackableValue()))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(body)
	_ = zw.Close()
	raw := make([]byte, 8, 8+z.Len())
	binary.BigEndian.PutUint32(raw[0:4], uint32(hdrhistogram.V2CompressedEncodingCookieBase))
	binary.BigEndian.PutUint32(raw[4:8], uint32(z.Len()))
	raw = append(raw, z.Bytes()...)
	if _, err := decodeHist(base64.StdEncoding.EncodeToString(raw)); err == nil || !strings.Contains(err.Error(), "decompressed") {
		t.Errorf("a histogram of %d bytes decompressed (%d compressed): %v, want it refused for its size", len(body), len(raw), err)
	}
}
