package kimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Boot is what a boot image says about the kernel it starts, read without
// looking for its BTF: enough to choose the machine that boots it.
type Boot struct {
	// Arch is x86_64 for a bzImage, else the Image header's (arm64,
	// riscv64).
	Arch string
	// Version is the kernel's version string: a bzImage header's
	// kernel_version, or what follows "Linux version " in an Image's
	// banner ("6.1.0-57-cloud-arm64 (debian-kernel@lists.debian.org) ...
	// #1 SMP ..."); "" when the image has none.
	Version string
	// Format is "bzImage", "Image" or "Image (gzip)".
	Format string
}

// Release is the first word of Version: what uname -r prints.
func (b *Boot) Release() string {
	r, _, _ := strings.Cut(b.Version, " ")
	return r
}

// ErrNotBoot is wrapped when data is not a boot image ParseBoot knows.
var ErrNotBoot = errors.New("not a boot image (an x86 bzImage, or an arm64 Image, plain or gzip-compressed)")

// ParseBoot reads a boot image: an x86 bzImage (its setup header: "HdrS"
// at 0x202 and the kernel_version string), or an Image (the magic of its
// header at 0x38, and the banner), plain or as a gzip stream, which is
// how some distributions ship arm64's vmlinuz (qemu loads both).
func ParseBoot(data []byte) (*Boot, error) {
	if len(data) >= 0x206 && string(data[0x202:0x206]) == "HdrS" {
		return &Boot{Arch: "x86_64", Version: bzImageVersion(data), Format: "bzImage"}, nil
	}
	format := "Image"
	if methodAt(data) == "gzip" {
		out, err := Decompress("gzip", data)
		if err != nil {
			return nil, err
		}
		data, format = out, "Image (gzip)"
	}
	arch := imageArch(data)
	if arch == "" {
		if format != "Image" {
			return nil, fmt.Errorf("a gzip stream, but not of a kernel Image: %w", ErrNotBoot)
		}
		return nil, ErrNotBoot
	}
	return &Boot{Arch: arch, Version: bannerVersion(data), Format: format}, nil
}

// bzImageVersion is the kernel_version string of a bzImage's setup header
// (its offset, minus 0x200, at 0x20e), "" when it has none.
func bzImageVersion(data []byte) string {
	if len(data) < 0x210 {
		return ""
	}
	kv := 0x200 + int(binary.LittleEndian.Uint16(data[0x20e:]))
	if kv == 0x200 || kv >= len(data) {
		return ""
	}
	return cString(data[kv:], "\x00")
}
