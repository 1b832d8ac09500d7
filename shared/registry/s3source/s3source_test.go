package s3source_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"gridcode/infra/s3fake"
	"gridcode/shared/registry/s3source"
)

// start serves a fake S3 holding body at bucket/registry/people.csv and
// returns a client built the way the function builds it.
func start(t *testing.T, body []byte) (*s3fake.Server, s3source.Client, string) {
	t.Helper()
	fake := s3fake.New("bucket")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	etag, err := fake.Put("bucket", "registry/people.csv", body)
	if err != nil {
		t.Fatal(err)
	}
	cfg := aws.Config{
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider("test", "test", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	return fake, s3source.New(cfg, srv.URL), etag
}

func readAll(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A resumed read asks S3 for the rest of the file from the checkpoint,
// pinned to the ETag the import began with; a checkpoint at the very end
// reads nothing rather than failing.
func TestOpenFromOffset(t *testing.T) {
	t.Parallel()
	body := []byte("姓名,证件号码\n张三,11010519491231002X\n")
	fake, c, etag := start(t, body)
	src := c.Source("bucket", "registry/people.csv", "", etag)
	ctx := context.Background()

	size, err := src.Size(ctx)
	if err != nil || size != int64(len(body)) {
		t.Fatalf("size %d (err %v), want %d", size, err, len(body))
	}
	end := int64(len(body))
	for _, c := range []struct {
		offset    int64
		want      string
		wantRange string
	}{
		{0, string(body), ""},
		{19, string(body[19:]), "bytes=19-"},
		{end - 1, "\n", fmt.Sprintf("bytes=%d-", end-1)},
		{end, "", fmt.Sprintf("bytes=%d-", end)},
	} {
		rc, err := src.Open(ctx, c.offset)
		if err != nil {
			t.Fatalf("open at %d: %v", c.offset, err)
		}
		if got := readAll(t, rc); got != c.want {
			t.Errorf("open at %d read %q, want %q", c.offset, got, c.want)
		}
		reqs := fake.Requests()
		last := reqs[len(reqs)-1]
		if last.Method != "GET" || last.Key != "registry/people.csv" || last.Range != c.wantRange || last.IfMatch != `"`+etag+`"` {
			t.Errorf("open at %d sent %+v; want a GET of the key with range %q, if-match the ETag", c.offset, last, c.wantRange)
		}
	}
}

// The file replaced after the import began: the import's reads fail with
// ErrChanged instead of reading the new file from the old offset.
func TestChangedAndMissing(t *testing.T) {
	t.Parallel()
	fake, c, etag := start(t, []byte("a,b\n1,2\n"))
	ctx := context.Background()
	if _, err := fake.Put("bucket", "registry/people.csv", []byte("a,b\n3,4\n5,6\n")); err != nil {
		t.Fatal(err)
	}
	pinned := c.Source("bucket", "registry/people.csv", "", etag)
	if _, err := pinned.Size(ctx); !errors.Is(err, s3source.ErrChanged) {
		t.Errorf("size of a replaced object: %v, want ErrChanged", err)
	}
	if _, err := pinned.Open(ctx, 4); !errors.Is(err, s3source.ErrChanged) {
		t.Errorf("open of a replaced object: %v, want ErrChanged", err)
	}
	unpinned := c.Source("bucket", "registry/people.csv", "", "")
	if rc, err := unpinned.Open(ctx, 4); err != nil || readAll(t, rc) != "3,4\n5,6\n" {
		t.Errorf("an unpinned read does not read the current object (err %v)", err)
	}

	gone := c.Source("bucket", "registry/gone.csv", "", "")
	if _, err := gone.Size(ctx); !errors.Is(err, s3source.ErrMissing) {
		t.Errorf("size of a missing object: %v, want ErrMissing", err)
	}
	if _, err := gone.Open(ctx, 0); !errors.Is(err, s3source.ErrMissing) {
		t.Errorf("open of a missing object: %v, want ErrMissing", err)
	}
}

func TestPutAndExists(t *testing.T) {
	t.Parallel()
	fake, c, _ := start(t, nil)
	ctx := context.Background()
	if ok, err := c.Exists(ctx, "bucket", "errors/imp1.csv"); err != nil || ok {
		t.Fatalf("exists before the put: %v (err %v)", ok, err)
	}
	body := []byte("\ufeff行号,字段,原因\r\n3,idNumber,check_digit\r\n")
	if err := c.Put(ctx, "bucket", "errors/imp1.csv", "text/csv; charset=utf-8", body); err != nil {
		t.Fatal(err)
	}
	if got, ok := fake.Object("bucket", "errors/imp1.csv"); !ok || !bytes.Equal(got, body) {
		t.Errorf("stored %q, want %q", got, body)
	}
	if ok, err := c.Exists(ctx, "bucket", "errors/imp1.csv"); err != nil || !ok {
		t.Errorf("exists after the put: %v (err %v)", ok, err)
	}
	if err := c.Put(ctx, "no-such-bucket", "errors/imp1.csv", "text/csv", body); err == nil {
		t.Error("a put to a missing bucket succeeded")
	}
}
