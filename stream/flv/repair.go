package flv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrCorrupt reports damage that is not the tail of an interrupted write:
// good tags follow it, or more than one tag's worth of bytes. Repair and
// Append leave such a file alone.
var ErrCorrupt = errors.New("flv: file damaged before its end")

// RepairReport says what Repair did to one file.
type RepairReport struct {
	Path            string
	Size            int64         // file size after the repair
	Truncated       int64         // bytes cut from a damaged tail
	Tags            int           // whole tags kept
	Duration        time.Duration // media timeline end, as written into onMetaData
	HeaderRewritten bool          // the file was cut inside its header and got a fresh one
	MetadataPatched bool          // duration and filesize were written into the leading onMetaData
	MarkerRemoved   bool
	Err             error // RepairDir: why this file could not be repaired
}

// Repair makes a recording that was interrupted (a crash, kill -9, power
// loss) whole again. path is the FLV file (its marker path is accepted too):
//
//  1. A partial tag at the end — the debris of the last write — is cut
//     off. Damage that is not at the tail (good tags after it, or more than
//     one maximal tag of bad bytes) is refused with ErrCorrupt and nothing is
//     changed: Repair never cuts good data.
//  2. The duration (the end of the media timeline: the last timestamp plus
//     one frame) and the file size are written into the leading onMetaData
//     tag, in place; a file without one keeps its tags as they are.
//  3. A file cut inside its 13-byte header (nothing recorded) gets a fresh
//     header.
//  4. The file is synced and the marker (path+MarkerSuffix) removed.
//
// Repair is idempotent: a second run changes nothing. A missing file with
// a marker only loses its marker. Errors wrap ErrHeader (not an FLV file),
// ErrCorrupt or the OS error; the marker is kept then.
func Repair(path string) (RepairReport, error) {
	path = strings.TrimSuffix(path, MarkerSuffix)
	rep := RepairReport{Path: path}
	marker := path + MarkerSuffix
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) && fileExists(marker) {
		// The crash came before the file was created.
		if err := os.Remove(marker); err != nil {
			return rep, err
		}
		rep.MarkerRemoved = true
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return rep, err
	}
	if !fi.Mode().IsRegular() {
		return rep, fmt.Errorf("%w: %s is not a regular file", ErrHeader, path)
	}
	size := fi.Size()
	fresh := AppendHeader(nil, Header{HasAudio: true, HasVideo: true})
	if size < int64(len(fresh)) {
		b := make([]byte, size)
		if _, err := f.ReadAt(b, 0); err != nil {
			return rep, err
		}
		for i, c := range b {
			if i == 4 && c&^0x05 == 0 {
				fresh[4] = c
			} else if c != fresh[i] {
				return rep, fmt.Errorf("%w: %d-byte file is not the start of an FLV header", ErrHeader, size)
			}
		}
		if _, err := f.WriteAt(fresh, 0); err != nil {
			return rep, err
		}
		rep.HeaderRewritten = true
		size = int64(len(fresh))
	}
	res, err := scanFile(f, size, nil)
	if err != nil {
		return rep, err
	}
	if res.err != nil {
		if err := checkTail(f, res, size); err != nil {
			return rep, err
		}
		if err := f.Truncate(res.end); err != nil {
			return rep, err
		}
		rep.Truncated = size - res.end
		size = res.end
	}
	rep.Size, rep.Tags = size, res.tags
	rep.Duration = time.Duration(res.tl.end) * time.Millisecond
	if res.metaOff >= 0 {
		m := make([]byte, res.metaSize)
		if _, err := f.ReadAt(m, res.metaOff); err != nil {
			return rep, err
		}
		orig := bytes.Clone(m)
		if updateMeta(m, nil, rep.Duration, size) {
			if !bytes.Equal(m, orig) {
				if _, err := f.WriteAt(m, res.metaOff); err != nil {
					return rep, err
				}
			}
			rep.MetadataPatched = true
		}
	}
	if err := f.Sync(); err != nil {
		return rep, err
	}
	if err := os.Remove(marker); err == nil {
		rep.MarkerRemoved = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return rep, err
	}
	return rep, nil
}

// RepairDir walks the tree under dir and repairs every file that has a
// marker (FILE+MarkerSuffix), skipping files this process is recording. It
// is meant to run at server start. It returns a report per marker found
// (with Err set for a file that could not be repaired) and the joined
// errors. Symbolic links are not followed.
func RepairDir(dir string) ([]RepairReport, error) {
	var reps []RepairReport
	var errs []error
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			errs = append(errs, err)
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, MarkerSuffix) {
			return nil
		}
		target := strings.TrimSuffix(p, MarkerSuffix)
		if abs, err := filepath.Abs(target); err == nil && isActive(abs) {
			return nil
		}
		rep, err := Repair(target)
		if err != nil {
			rep.Err = err
			errs = append(errs, fmt.Errorf("repair %s: %w", target, err))
		}
		reps = append(reps, rep)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	return reps, errors.Join(errs...)
}
