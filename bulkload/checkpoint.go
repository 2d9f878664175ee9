package bulkload

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/shoal-search/shoal/corpus"
)

// checkpointVersion is the format version written by [Checkpoint.Save].
const checkpointVersion = 1

// ErrCheckpointMismatch is wrapped by the errors that refuse to resume from
// a checkpoint written for something else: another index, or an input file
// that has changed since (see [FileChangedError]).
var ErrCheckpointMismatch = errors.New("checkpoint does not match this load")

// FileKey identifies one version of an input file: its absolute path, size
// and modification time. Standard input is keyed by the path "-" alone.
type FileKey struct {
	// Path is the absolute path of the file, or "-" for standard input.
	Path string
	// Size is the file size in bytes (0 for standard input).
	Size int64
	// ModTime is the file's modification time (zero for standard input).
	ModTime time.Time
}

// StatFileKey returns the FileKey of the file at path as it is now. The
// path "-" gives the key of standard input.
func StatFileKey(path string) (FileKey, error) {
	if path == corpus.StdinPath {
		return FileKey{Path: corpus.StdinPath}, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return FileKey{}, fmt.Errorf("bulkload: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return FileKey{}, fmt.Errorf("bulkload: %w", err)
	}
	return FileKey{Path: abs, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// FileChangedError refuses to resume an input file whose size or
// modification time differ from those recorded in the checkpoint: its line
// numbers may no longer name the same documents.
type FileChangedError struct {
	// Recorded is the key stored in the checkpoint.
	Recorded FileKey
	// Current is the key of the file as it is now.
	Current FileKey
}

// Error explains what changed.
func (e *FileChangedError) Error() string {
	return fmt.Sprintf("bulkload: %s changed since the checkpoint was written "+
		"(then %d bytes, modified %s; now %d bytes, modified %s): "+
		"its line numbers may name other documents, so it cannot be resumed; "+
		"start over without resuming or with a new checkpoint",
		e.Current.Path,
		e.Recorded.Size, e.Recorded.ModTime.Format(time.RFC3339),
		e.Current.Size, e.Current.ModTime.Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrCheckpointMismatch) hold.
func (e *FileChangedError) Is(target error) bool { return target == ErrCheckpointMismatch }

// Checkpoint records which lines of which input files a load into one index
// has finished with, as a roaring bitmap of 1-based line numbers per file
// version. A Checkpoint is not safe for concurrent use.
type Checkpoint struct {
	index string
	files map[string]*checkpointFile // by FileKey.Path
}

type checkpointFile struct {
	key  FileKey
	done *roaring.Bitmap
}

// NewCheckpoint returns an empty checkpoint for a load into index.
func NewCheckpoint(index string) *Checkpoint {
	return &Checkpoint{index: index, files: make(map[string]*checkpointFile)}
}

// Index returns the name of the index the checkpoint is for.
func (c *Checkpoint) Index() string { return c.index }

// Lines returns the set of finished line numbers recorded for the file
// version key, creating an empty set if the file is not recorded yet. The
// set is the checkpoint's own: adding to it records lines. If the
// checkpoint records the same path with another size or modification time,
// Lines returns a *FileChangedError.
func (c *Checkpoint) Lines(key FileKey) (*roaring.Bitmap, error) {
	if f, ok := c.files[key.Path]; ok {
		if f.key.Size != key.Size || !f.key.ModTime.Equal(key.ModTime) {
			return nil, &FileChangedError{Recorded: f.key, Current: key}
		}
		return f.done, nil
	}
	f := &checkpointFile{key: key, done: roaring.New()}
	c.files[key.Path] = f
	return f.done, nil
}

// checkpointJSON is the on-disk form of a Checkpoint.
type checkpointJSON struct {
	Version int                  `json:"version"`
	Index   string               `json:"index"`
	Saved   time.Time            `json:"saved"`
	Files   []checkpointFileJSON `json:"files"`
}

type checkpointFileJSON struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	// Lines is the number of lines recorded, for people reading the file.
	Lines uint64 `json:"lines"`
	// Done is the portable roaring serialisation of the line set (base64
	// in JSON).
	Done []byte `json:"done"`
}

// ReadCheckpoint reads the checkpoint stored at path. A missing file gives
// an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bulkload: read checkpoint: %w", err)
	}
	var cj checkpointJSON
	if err := json.Unmarshal(data, &cj); err != nil {
		return nil, fmt.Errorf("bulkload: checkpoint %s is corrupt: %w", path, err)
	}
	if cj.Version != checkpointVersion {
		return nil, fmt.Errorf("bulkload: checkpoint %s has version %d, want %d", path, cj.Version, checkpointVersion)
	}
	c := NewCheckpoint(cj.Index)
	for _, f := range cj.Files {
		bm := roaring.New()
		if err := bm.UnmarshalBinary(f.Done); err != nil {
			return nil, fmt.Errorf("bulkload: checkpoint %s: lines of %s are corrupt: %w", path, f.Path, err)
		}
		key := FileKey{Path: f.Path, Size: f.Size}
		if f.ModTime != 0 {
			key.ModTime = time.Unix(0, f.ModTime)
		}
		c.files[f.Path] = &checkpointFile{key: key, done: bm}
	}
	return c, nil
}

// Save writes the checkpoint to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, so that a crash leaves
// either the old or the new checkpoint, never a torn one.
func (c *Checkpoint) Save(path string) error {
	cj := checkpointJSON{Version: checkpointVersion, Index: c.index, Saved: time.Now().UTC()}
	for _, f := range c.files {
		f.done.RunOptimize()
		b, err := f.done.ToBytes()
		if err != nil {
			return fmt.Errorf("bulkload: encode checkpoint lines of %s: %w", f.key.Path, err)
		}
		fj := checkpointFileJSON{Path: f.key.Path, Size: f.key.Size, Lines: f.done.GetCardinality(), Done: b}
		if !f.key.ModTime.IsZero() {
			fj.ModTime = f.key.ModTime.UnixNano()
		}
		cj.Files = append(cj.Files, fj)
	}
	sort.Slice(cj.Files, func(i, j int) bool { return cj.Files[i].Path < cj.Files[j].Path })
	data, err := json.MarshalIndent(cj, "", "  ")
	if err != nil {
		return fmt.Errorf("bulkload: encode checkpoint: %w", err)
	}
	if err := writeFileAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("bulkload: save checkpoint: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data via a synced temporary file and a
// rename, then syncs the directory so the rename itself is durable.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// Best effort: not every platform can sync a directory.
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
