package photo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob" // mem:// for tests
	_ "gocloud.dev/blob/s3blob"  // s3:// for multi-instance installs
	"gocloud.dev/gcerrors"

	"roster/internal/core"
)

// CacheControl is sent with stored photos: their URLs carry the version,
// so a given URL never changes content.
const CacheControl = "private, max-age=31536000, immutable"

// Store keeps processed photos in a blob bucket under
// "photos/<userID>/<version>/<size>.jpg".
type Store struct {
	bucket *blob.Bucket
}

// OpenStore opens the photo bucket at rawURL:
//
//   - "" is the folder "files" under dataDir, created if missing;
//   - "file:///abs/path" is a folder (created if missing);
//   - "s3://bucket?region=...&endpoint=...&use_path_style=true" is
//     S3-compatible storage, for installs with several instances;
//   - "mem://" keeps photos in memory, for tests.
//
// Folders are opened without ".attrs" sidecar files and with temporary
// files next to their destination, so renames never cross file systems.
// Explicit query parameters of a file:// URL win over these defaults.
func OpenStore(ctx context.Context, rawURL, dataDir string) (*Store, error) {
	var (
		b   *blob.Bucket
		err error
	)
	switch {
	case rawURL == "":
		dir := filepath.Join(dataDir, "files")
		b, err = fileblob.OpenBucket(dir, &fileblob.Options{
			CreateDir:   true,
			DirFileMode: 0o750,
			NoTempDir:   true,
			Metadata:    fileblob.MetadataDontWrite,
		})
		if err != nil {
			return nil, fmt.Errorf("photo: open folder %s: %w", dir, err)
		}
	default:
		u, perr := url.Parse(rawURL)
		if perr != nil {
			return nil, fmt.Errorf("photo: parse storage URL: %w", perr)
		}
		if u.Scheme == fileblob.Scheme {
			q := u.Query()
			for k, v := range map[string]string{"create_dir": "1", "no_tmp_dir": "1", "metadata": string(fileblob.MetadataDontWrite)} {
				if !q.Has(k) {
					q.Set(k, v)
				}
			}
			u.RawQuery = q.Encode()
		}
		b, err = blob.OpenBucket(ctx, u.String())
		if err != nil {
			// The URL may hold credentials; name only its scheme.
			return nil, fmt.Errorf("photo: open %s storage: %w", u.Scheme, err)
		}
	}
	return &Store{bucket: b}, nil
}

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

func prefix(userID, version int64) string {
	return "photos/" + strconv.FormatInt(userID, 10) + "/" + strconv.FormatInt(version, 10) + "/"
}

func key(userID, version int64, size int) string {
	return prefix(userID, version) + strconv.Itoa(size) + ".jpg"
}

// PutPhoto stores the images of one photo version; images must hold
// exactly the sizes in Sizes (as Process returns them). On failure the
// sizes already written are removed again.
func (s *Store) PutPhoto(ctx context.Context, userID, version int64, images map[int][]byte) error {
	if len(images) != len(Sizes) {
		return fmt.Errorf("photo: put: got %d sizes, want %v", len(images), Sizes)
	}
	for _, size := range Sizes {
		if _, ok := images[size]; !ok {
			return fmt.Errorf("photo: put: size %d missing", size)
		}
	}
	for _, size := range Sizes {
		err := s.bucket.WriteAll(ctx, key(userID, version, size), images[size], &blob.WriterOptions{
			ContentType:  "image/jpeg",
			CacheControl: CacheControl,
		})
		if err != nil {
			// Clean up with a fresh context: ctx may be the reason we failed.
			if derr := s.DeletePhoto(context.WithoutCancel(ctx), userID, version); derr != nil {
				slog.WarnContext(ctx, "photo: cleanup after failed put", "user", userID, "version", version, "err", derr)
			}
			return fmt.Errorf("photo: put %d: %w", size, err)
		}
	}
	return nil
}

// DeletePhoto removes every stored size of one photo version. A version
// that does not exist is not an error. It lists the version's prefix
// rather than trusting Sizes, so sizes dropped in a later release go too.
// In a folder, the emptied directories stay (the blob API cannot remove
// them); they cost nothing but an inode.
func (s *Store) DeletePhoto(ctx context.Context, userID, version int64) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix(userID, version)})
	var errs []error
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("photo: list %s: %w", prefix(userID, version), err)
		}
		if obj.IsDir {
			continue
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			errs = append(errs, fmt.Errorf("photo: delete %s: %w", obj.Key, err))
		}
	}
	return errors.Join(errs...)
}

// StoredVersion is one photo version found in storage.
type StoredVersion struct{ UserID, Version int64 }

// Versions calls fn once for each photo version in storage, whatever its
// sizes; keys that are not photos/{user}/{version}/... are passed over.
// An error from fn stops the walk and is returned.
func (s *Store) Versions(ctx context.Context, fn func(StoredVersion) error) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: "photos/"})
	var last StoredVersion
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("photo: list: %w", err)
		}
		parts := strings.Split(obj.Key, "/")
		if obj.IsDir || len(parts) != 4 {
			continue
		}
		user, uerr := strconv.ParseInt(parts[1], 10, 64)
		version, verr := strconv.ParseInt(parts[2], 10, 64)
		if uerr != nil || verr != nil {
			continue
		}
		// Keys come in order, so one version's sizes are together.
		if v := (StoredVersion{user, version}); v != last {
			last = v
			if err := fn(v); err != nil {
				return err
			}
		}
	}
}

// OpenPhoto opens one stored size and returns it with its length. A size
// not in Sizes, or a photo that is not stored, gives core.ErrNotFound.
func (s *Store) OpenPhoto(ctx context.Context, userID, version int64, size int) (io.ReadCloser, int64, error) {
	if !slices.Contains(Sizes, size) {
		return nil, 0, core.ErrNotFound
	}
	r, err := s.bucket.NewReader(ctx, key(userID, version, size), nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, 0, core.ErrNotFound
		}
		return nil, 0, fmt.Errorf("photo: open %s: %w", key(userID, version, size), err)
	}
	return r, r.Size(), nil
}

// PickSize returns the smallest stored size at least want, or the largest
// stored size when want exceeds it.
func PickSize(want int) int {
	best := Sizes[0]
	for _, s := range Sizes {
		if s >= want && s < best {
			best = s
		}
	}
	return best
}

// ETag returns the entity tag of one stored size. Stored photos never
// change, so the name is the tag.
func ETag(userID, version int64, size int) string {
	return `"` + strconv.FormatInt(userID, 10) + "-" + strconv.FormatInt(version, 10) + "-" + strconv.Itoa(size) + `"`
}

// ServePhoto writes one stored size as the response, with long-lived
// caching (URLs are versioned), an ETag and If-None-Match support. It
// answers 404 for a size not in Sizes or a missing photo; the caller
// decides beforehand who may see whose photo. Since the ETag follows from
// the URL alone, a matching If-None-Match is answered without reading
// storage.
func (s *Store) ServePhoto(w http.ResponseWriter, r *http.Request, userID, version int64, size int) {
	if !slices.Contains(Sizes, size) {
		http.NotFound(w, r)
		return
	}
	etag := ETag(userID, version, size)
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", CacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	rc, n, err := s.OpenPhoto(r.Context(), userID, version, size)
	if err != nil {
		for _, k := range []string{"ETag", "Cache-Control"} {
			h.Del(k)
		}
		if core.ErrorCode(err) == core.ENOTFOUND {
			http.NotFound(w, r)
			return
		}
		slog.ErrorContext(r.Context(), "photo: serve", "user", userID, "version", version, "size", size, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, rc); err != nil {
		slog.DebugContext(r.Context(), "photo: serve copy", "err", err) // usually the client went away
	}
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func etagMatch(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
