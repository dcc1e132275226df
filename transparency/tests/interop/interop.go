// Cross-checks the Rust log library against the Go reference implementation
// (golang.org/x/mod/sumdb/note and sumdb/tlog). Run by tests/go_interop.rs:
//
//	interop verify-log <log dir> <vkey> <proofs dir>
//	interop paths              (reads "L N W" lines, prints the C2SP path)
//	interop genkey <name> <text file>
//	interop sign <skey> <text file>
//
// Every failure exits 1 with a message; success prints OK lines.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "interop: "+format+"\n", args...)
	os.Exit(1)
}

// c2spPath turns a Go sumdb tile path (tile/8/L/N, tile/8/data/N) into the
// C2SP tlog-tiles path (tile/L/N, tile/entries/N): C2SP paths carry no height.
func c2spPath(t tlog.Tile) string {
	p := t.Path()
	if !strings.HasPrefix(p, "tile/8/") {
		fail("unexpected Go tile path %s", p)
	}
	p = "tile/" + strings.TrimPrefix(p, "tile/8/")
	if strings.HasPrefix(p, "tile/data/") {
		p = "tile/entries/" + strings.TrimPrefix(p, "tile/data/")
	}
	return p
}

type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return 8 }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := os.ReadFile(filepath.Join(d.dir, c2spPath(t)))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (d dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func openCheckpoint(msg []byte, vkey string) (string, int64, tlog.Hash) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("vkey: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("checkpoint note does not verify: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint root: %v", err)
	}
	return lines[0], size, root
}

func parseEntryBundle(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			fail("truncated entry bundle")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			fail("truncated entry")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out
}

func verifyLog(dir, vkey, proofs string) {
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		fail("%v", err)
	}
	_, size, root := openCheckpoint(msg, vkey)
	tree := tlog.Tree{N: size, Hash: root}
	hr := tlog.TileHashReader(tree, dirTiles{dir})
	th, err := tlog.TreeHash(size, hr)
	if err != nil {
		fail("tree hash from tiles: %v", err)
	}
	if th != root {
		fail("tree hash from tiles %v != checkpoint root %v", th, root)
	}
	fmt.Printf("OK checkpoint size=%d root matches tiles\n", size)

	// Every entry, read from the entry bundles, hashes to the level-0 hash.
	var indexes []int64
	for i := int64(0); i < size; i++ {
		indexes = append(indexes, tlog.StoredHashIndex(0, i))
	}
	leafHashes, err := hr.ReadHashes(indexes)
	if err != nil {
		fail("reading leaf hashes: %v", err)
	}
	count := int64(0)
	for n := int64(0); n*256 < size; n++ {
		w := size - n*256
		if w > 256 {
			w = 256
		}
		t := tlog.Tile{H: 8, L: -1, N: n, W: int(w)}
		data, err := os.ReadFile(filepath.Join(dir, c2spPath(t)))
		if err != nil {
			fail("%v", err)
		}
		entries := parseEntryBundle(data)
		if int64(len(entries)) != w {
			fail("bundle %d has %d entries, want %d", n, len(entries), w)
		}
		for i, e := range entries {
			if tlog.RecordHash(e) != leafHashes[n*256+int64(i)] {
				fail("record %d hash differs", n*256+int64(i))
			}
			count++
		}
	}
	fmt.Printf("OK %d record hashes match\n", count)

	files, _ := filepath.Glob(filepath.Join(proofs, "*.tlog-proof"))
	sort.Strings(files)
	for _, f := range files {
		verifyProofFile(f, vkey, size, hr)
	}
	fmt.Printf("OK %d inclusion proofs\n", len(files))
	cons, _ := filepath.Glob(filepath.Join(proofs, "*.consistency"))
	for _, f := range cons {
		verifyConsistency(f, hr)
	}
	fmt.Printf("OK %d consistency proofs\n", len(cons))
}

func verifyProofFile(f, vkey string, logSize int64, hr tlog.HashReader) {
	data, err := os.ReadFile(f)
	if err != nil {
		fail("%v", err)
	}
	parts := bytes.SplitN(data, []byte("\n\n"), 2)
	if len(parts) != 2 {
		fail("%s: no blank line", f)
	}
	lines := strings.Split(string(parts[0]), "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") || !strings.HasPrefix(lines[2], "index ") {
		fail("%s: bad header", f)
	}
	entry, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
	if err != nil {
		fail("%s: extra: %v", f, err)
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[2], "index "), 10, 64)
	if err != nil {
		fail("%s: index: %v", f, err)
	}
	var proof tlog.RecordProof
	for _, l := range lines[3:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			fail("%s: %v", f, err)
		}
		proof = append(proof, h)
	}
	_, size, root := openCheckpoint(parts[1], vkey)
	if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(entry)); err != nil {
		fail("%s: Go rejects the inclusion proof: %v", f, err)
	}
	if size == logSize {
		goProof, err := tlog.ProveRecord(size, index, hr)
		if err != nil {
			fail("%s: %v", f, err)
		}
		if fmt.Sprint(goProof) != fmt.Sprint(proof) {
			fail("%s: our inclusion proof differs from Go's", f)
		}
	}
}

// A .consistency file: "size1\nroot1\nsize2\nroot2\n" then the proof hashes.
func verifyConsistency(f string, hr tlog.HashReader) {
	data, err := os.ReadFile(f)
	if err != nil {
		fail("%v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	n, _ := strconv.ParseInt(lines[0], 10, 64)
	h, err1 := tlog.ParseHash(lines[1])
	t, _ := strconv.ParseInt(lines[2], 10, 64)
	th, err2 := tlog.ParseHash(lines[3])
	if err1 != nil || err2 != nil {
		fail("%s: bad roots", f)
	}
	var proof tlog.TreeProof
	for _, l := range lines[4:] {
		p, err := tlog.ParseHash(l)
		if err != nil {
			fail("%s: %v", f, err)
		}
		proof = append(proof, p)
	}
	if err := tlog.CheckTree(proof, t, th, n, h); err != nil {
		fail("%s: Go rejects the consistency proof %d -> %d: %v", f, n, t, err)
	}
	goProof, err := tlog.ProveTree(t, n, hr)
	if err == nil && fmt.Sprint(goProof) != fmt.Sprint(proof) {
		fail("%s: our consistency proof differs from Go's", f)
	}
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: interop verify-log|paths|genkey|sign ...")
	}
	switch os.Args[1] {
	case "verify-log":
		verifyLog(os.Args[2], os.Args[3], os.Args[4])
	case "paths":
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var l, w int
			var n int64
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %d", &l, &n, &w); err != nil {
				fail("paths: %v", err)
			}
			fmt.Println(c2spPath(tlog.Tile{H: 8, L: l, N: n, W: w}))
		}
	case "genkey":
		skey, vkey, err := note.GenerateKey(nil, os.Args[2])
		if err != nil {
			fail("%v", err)
		}
		text, _ := os.ReadFile(os.Args[3])
		signer, err := note.NewSigner(skey)
		if err != nil {
			fail("%v", err)
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
		if err != nil {
			fail("%v", err)
		}
		fmt.Printf("%s\n%s\n%s", skey, vkey, msg)
	case "sign":
		text, _ := os.ReadFile(os.Args[3])
		signer, err := note.NewSigner(os.Args[2])
		if err != nil {
			fail("%v", err)
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
		if err != nil {
			fail("%v", err)
		}
		os.Stdout.Write(msg)
	default:
		fail("unknown command %s", os.Args[1])
	}
}
