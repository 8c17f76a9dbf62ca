#!/usr/bin/env bash
# A fake NVIDIA host for the CDI tests and the benchmark: what `box cdi
# generate` looks for, built for real as root under one directory.
#
#   fakehost_build DIR     builds DIR/{dev,driver,proc}; sets FAKE_* below
#
# DIR/dev     a dev root: char nodes made with mknod, nvidia0 (195:0),
#             nvidia1 (195:1), nvidiactl (195:255), nvidia-modeset (195:254),
#             nvidia-uvm and nvidia-uvm-tools (the nvidia-uvm major of
#             /proc/devices, or a free major), the GPU 0's DRM nodes with
#             their by-path links, and a decoy nvidia7 that no GPU names
# DIR/driver  a driver root: tiny real shared libraries built with gcc
#             (real SONAMEs), soname links and an ld.so.cache made by the
#             real ldconfig -r, one library directory only the cache names,
#             a stale library of another version, binaries, GSP firmware,
#             the persistenced socket
# DIR/proc    a proc root: driver/nvidia/version and gpus/*/information
#
# Every planted file is listed in FAKE_LIBS, FAKE_BINS, FAKE_FIRMWARE so that
# the tests can assert that generate found exactly these.
# shellcheck disable=SC2034 # the FAKE_* variables are for the files that source this one

FAKE_VERSION=550.54.14
FAKE_UUID0=GPU-8f6b2c1e-0d4a-4c3b-9e2f-1a2b3c4d5e6f
FAKE_UUID1=GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9
FAKE_PCI0=0000:17:00.0
FAKE_PCI1=0000:65:00.0
FAKE_LIBDIR=/usr/lib/x86_64-linux-gnu
FAKE_NVVMDIR=/usr/lib/x86_64-linux-gnu/nvidia/extra

# fakehost_uvm_major: nvidia-uvm's major from /proc/devices, else a major no
# driver registered (character devices).
fakehost_uvm_major() {
    local m
    m=$(awk '/^Character devices:/ {c = 1; next} /^$/ {c = 0} c && $2 == "nvidia-uvm" {print $1}' \
        /proc/devices)
    if [ -n "$m" ]; then
        echo "$m"
        return
    fi
    for m in $(seq 240 254); do
        if ! awk '/^Character devices:/ {c = 1; next} /^Block/ {c = 0} c {print $1}' \
            /proc/devices | grep -qx "$m"; then
            echo "$m"
            return
        fi
    done
    echo 511
}

# fakehost_lib DIR FILE SONAME: a real shared library with that SONAME.
fakehost_lib() {
    local dir=$1 file=$2 soname=$3 sym
    sym=$(printf '%s' "$soname" | tr -c 'A-Za-z0-9_' _)
    mkdir -p "$dir"
    printf 'int fake_%s(void) { return 42; }\n' "$sym" >"$dir/.src.c"
    gcc -shared -fPIC -Wl,-soname,"$soname" -o "$dir/$file" "$dir/.src.c"
    rm -f "$dir/.src.c"
}

# fakehost_bin FILE: a real (dynamic) ELF program that prints its name.
fakehost_bin() {
    local f=$1
    mkdir -p "$(dirname "$f")"
    printf '#include <stdio.h>\nint main(void) { puts("%s"); return 0; }\n' "$(basename "$f")" \
        >"$f.c"
    gcc -o "$f" "$f.c"
    rm -f "$f.c"
}

# fakehost_vars DIR: the FAKE_* variables of a host that fakehost_build made.
fakehost_vars() {
    local h=$1 v=$FAKE_VERSION
    FAKE_ROOT=$h
    FAKE_DEV=$h/dev
    FAKE_DRIVER=$h/driver
    FAKE_PROC=$h/proc
    FAKE_LIBS=("$FAKE_LIBDIR/libcuda.so.$v" "$FAKE_LIBDIR/libnvidia-ml.so.$v"
        "$FAKE_LIBDIR/libnvidia-ptxjitcompiler.so.$v" "$FAKE_LIBDIR/libnvidia-tls.so.$v"
        "$FAKE_NVVMDIR/libnvidia-nvvm.so.$v")
    FAKE_FIRMWARE=("/lib/firmware/nvidia/$v/gsp_ga10x.bin" "/lib/firmware/nvidia/$v/gsp_tu10x.bin")
    FAKE_BINS=(/usr/bin/nvidia-smi /usr/bin/nvidia-debugdump /usr/bin/nvidia-persistenced)
    FAKE_SOCKETS=(/run/nvidia-persistenced/socket)
}

fakehost_build() {
    local h=$1 uvm v=$FAKE_VERSION
    fakehost_vars "$h"
    uvm=$(fakehost_uvm_major)
    FAKE_UVM_MAJOR=$uvm

    # dev root
    mkdir -p "$FAKE_DEV/dev/dri/by-path"
    mknod -m 666 "$FAKE_DEV/dev/nvidia0" c 195 0
    mknod -m 666 "$FAKE_DEV/dev/nvidia1" c 195 1
    mknod -m 666 "$FAKE_DEV/dev/nvidia7" c 195 7
    mknod -m 666 "$FAKE_DEV/dev/nvidiactl" c 195 255
    mknod -m 666 "$FAKE_DEV/dev/nvidia-modeset" c 195 254
    mknod -m 666 "$FAKE_DEV/dev/nvidia-uvm" c "$uvm" 0
    mknod -m 666 "$FAKE_DEV/dev/nvidia-uvm-tools" c "$uvm" 1
    mknod -m 666 "$FAKE_DEV/dev/dri/card1" c 226 1
    mknod -m 666 "$FAKE_DEV/dev/dri/renderD128" c 226 128
    ln -s ../card1 "$FAKE_DEV/dev/dri/by-path/pci-$FAKE_PCI0-card"
    ln -s ../renderD128 "$FAKE_DEV/dev/dri/by-path/pci-$FAKE_PCI0-render"

    # proc root
    local gpus=$FAKE_PROC/proc/driver/nvidia/gpus
    mkdir -p "$gpus/$FAKE_PCI0" "$gpus/$FAKE_PCI1"
    printf 'NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  %s  Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n' \
        "$v" >"$FAKE_PROC/proc/driver/nvidia/version"
    fakehost_info "$gpus/$FAKE_PCI0/information" 0 "$FAKE_UUID0" "$FAKE_PCI0"
    fakehost_info "$gpus/$FAKE_PCI1/information" 1 "$FAKE_UUID1" "$FAKE_PCI1"

    # driver root: libraries where distributions put them, one directory
    # that only the linker cache names, and a stale library of an old driver.
    local d=$FAKE_DRIVER
    fakehost_lib "$d$FAKE_LIBDIR" "libcuda.so.$v" libcuda.so.1
    fakehost_lib "$d$FAKE_LIBDIR" "libnvidia-ml.so.$v" libnvidia-ml.so.1
    fakehost_lib "$d$FAKE_LIBDIR" "libnvidia-ptxjitcompiler.so.$v" libnvidia-ptxjitcompiler.so.1
    fakehost_lib "$d$FAKE_NVVMDIR" "libnvidia-nvvm.so.$v" libnvidia-nvvm.so.4
    fakehost_lib "$d$FAKE_LIBDIR" libnvidia-old.so.470.1 libnvidia-old.so.1
    printf 'not an ELF file\n' >"$d$FAKE_LIBDIR/libnvidia-tls.so.$v"
    mkdir -p "$d/etc"
    printf '%s\n%s\n' "$FAKE_LIBDIR" "$FAKE_NVVMDIR" >"$d/etc/ld.so.conf"
    ldconfig -r "$d"

    # binaries (one through a symlink, as distributions install it)
    mkdir -p "$d/usr/bin" "$d/usr/lib/nvidia/bin"
    local b
    for b in nvidia-smi nvidia-debugdump nvidia-persistenced; do
        fakehost_bin "$d/usr/lib/nvidia/bin/$b"
    done
    ln -s ../lib/nvidia/bin/nvidia-smi "$d/usr/bin/nvidia-smi"
    cp "$d/usr/lib/nvidia/bin/nvidia-debugdump" "$d/usr/bin/"
    ln -s /usr/lib/nvidia/bin/nvidia-persistenced "$d/usr/bin/nvidia-persistenced"
    printf 'not executable\n' >"$d/usr/bin/nvidia-cuda-mps-control"

    # GSP firmware, and something that is not firmware beside it
    mkdir -p "$d/lib/firmware/nvidia/$v" "$d/lib/firmware/nvidia/470.1"
    head -c 4096 /dev/urandom >"$d/lib/firmware/nvidia/$v/gsp_ga10x.bin"
    head -c 4096 /dev/urandom >"$d/lib/firmware/nvidia/$v/gsp_tu10x.bin"
    printf 'x\n' >"$d/lib/firmware/nvidia/$v/README"
    head -c 16 /dev/urandom >"$d/lib/firmware/nvidia/470.1/gsp_old.bin"

    # the persistence daemon's socket (a real one, left bound)
    mkdir -p "$d/run/nvidia-persistenced"
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
        "$d/run/nvidia-persistenced/socket"
}

# fakehost_info FILE MINOR UUID PCI: a GPU's information file, as the driver
# writes it.
fakehost_info() {
    cat >"$1" <<INFO
Model: 		 NVIDIA H100 80GB HBM3
IRQ:   		 0
GPU UUID: 	 $3
Video BIOS: 	 96.00.99.00.01
Bus Type: 	 PCIe
DMA Size: 	 52 bits
DMA Mask: 	 0xfffffffffffff
Bus Location: 	 $4
Device Minor: 	 $2
GPU Firmware: 	 550.54.14
GPU Excluded:	 No
INFO
}
