# nvidia-gpu-firmware1: base-gpu-ready plus the NVIDIA driver from the
# distribution archive (Ubuntu 22.04: nvidia-headless-580-server, built by
# DKMS) with GPU firmware on: /etc/modprobe.d/nvidia.conf holds exactly
# "options nvidia NVreg_EnableGpuFirmware=1", inside the initramfs too. Raw
# UEFI disk (q35, OVMF, virtio-scsi), the way the region imports it.
# Driven by `box vm build nvidia-gpu-firmware1`, which builds the base
# image and passes base_image, base_image_checksum, output_directory, vm_name
# and facts_file, and the build password in PKR_VAR_build_password.

variable "base_image" {
  type        = string
  description = "Raw base disk from images/vm/base/build-base.sh, named *.img: packer then copies it with qemu-img convert, which keeps it sparse (a *.raw name makes packer 1.6 copy every byte)."
}

variable "base_image_checksum" {
  type        = string
  description = "\"sha256:<hex>\" of base_image; box vm build checks the SHA-256 itself and passes \"none\"."
}

variable "build_user" {
  type    = string
  default = "builder"
}

variable "build_password" {
  type        = string
  sensitive   = true
  description = "The build user's password, set by build-base.sh with chpasswd."
}

variable "distro" {
  type    = string
  default = "ubuntu"
}

variable "nvidia_branch" {
  type        = string
  default     = "580"
  description = "Ubuntu's nvidia-headless-<branch>-server; the version built is recorded from the module."
}

variable "kubernetes_version" {
  type        = string
  default     = "default"
  description = "Kubernetes version the image declares (kubectl must report it); \"default\": the distribution's."
}

variable "kubernetes_packages" {
  type        = string
  default     = "default"
  description = "name=upstream-version pins from the distribution archive; \"default\": the distribution's."
}

variable "output_directory" {
  type    = string
  default = "output-nvidia-gpu-firmware1"
}

variable "vm_name" {
  type    = string
  default = "nvidia-gpu-firmware1.raw"
}

variable "facts_file" {
  type    = string
  default = "nvidia-gpu-firmware1.facts.env"
}

variable "firmware" {
  type    = string
  default = "/usr/share/ovmf/OVMF.fd"
}

variable "serial_log" {
  type        = string
  default     = ""
  description = "File that receives the guest's serial console (kernel and boot messages); \"\": none."
}

variable "cpus" {
  type        = number
  default     = 1
  description = "Guest CPUs. One: under TCG on a busy host, a second vCPU mostly spins waiting for the first."
}

variable "memory" {
  type    = number
  default = 3072
}

locals {
  scripts = "${path.root}/scripts"
  k8s_default = {
    debian = { version = "1.20.2", packages = "kubernetes-client=1.20.5+really1.20.2 containerd=1.6.20~ds1" }
    ubuntu = { version = "", packages = "containerd=2.2.1" }
  }
  k8s_version  = var.kubernetes_version == "default" ? local.k8s_default[var.distro].version : var.kubernetes_version
  k8s_packages = var.kubernetes_packages == "default" ? local.k8s_default[var.distro].packages : var.kubernetes_packages
  sudo         = "chmod +x {{ .Path }}; sudo -n -E {{ .Vars }} bash -e {{ .Path }}"
  env = [
    "DISTRO=${var.distro}",
    "NVIDIA_BRANCH=${var.nvidia_branch}",
    "BUILD_USER=${var.build_user}",
    "KUBERNETES_VERSION=${local.k8s_version}",
    "KUBERNETES_PACKAGES=${local.k8s_packages}",
    "FACTS_FILE=/var/tmp/box-facts.env",
  ]
}

source "qemu" "image" {
  iso_url          = var.base_image
  iso_checksum     = var.base_image_checksum
  disk_image       = true
  use_backing_file = false
  skip_resize_disk = true
  format           = "raw"
  accelerator      = "tcg"
  machine_type     = "q35"
  qemuargs = concat([["-cpu", "max"], ["-bios", var.firmware]],
  var.serial_log == "" ? [] : [["-serial", "file:${var.serial_log}"]])
  cpus             = var.cpus
  memory           = var.memory
  disk_interface   = "virtio-scsi"
  net_device       = "virtio-net"
  headless         = true
  output_directory = var.output_directory
  vm_name          = var.vm_name
  communicator     = "ssh"
  ssh_username     = var.build_user
  ssh_password     = var.build_password
  ssh_timeout      = "15m"
  shutdown_command = "sudo -n sh -c 'usermod -s /usr/sbin/nologin --expiredate 1 ${var.build_user} && rm -f /etc/sudoers.d/90-box-build && shutdown -P now'"
  shutdown_timeout = "5m"
}

build {
  sources = ["source.qemu.image"]

  provisioner "shell" {
    inline = ["mkdir -p /var/tmp/box-build"]
  }

  provisioner "file" {
    source      = "${local.scripts}/"
    destination = "/var/tmp/box-build"
  }

  provisioner "shell" {
    environment_vars = local.env
    execute_command  = local.sudo
    inline           = ["bash /var/tmp/box-build/01-system-update.sh"]
  }

  provisioner "shell" {
    environment_vars  = local.env
    execute_command   = local.sudo
    expect_disconnect = true
    inline            = ["bash /var/tmp/box-build/10-reboot.sh"]
  }

  provisioner "shell" {
    pause_before        = "10s"
    start_retry_timeout = "20m"
    environment_vars    = local.env
    execute_command     = local.sudo
    inline = [
      "bash /var/tmp/box-build/11-check-kernel.sh",
      "bash /var/tmp/box-build/20-gpu-prerequisites.sh",
      "bash /var/tmp/box-build/30-kubernetes-tools.sh",
      "bash /var/tmp/box-build/40-nvidia-driver.sh",
      "bash /var/tmp/box-build/45-nvidia-firmware-config.sh",
      "bash /var/tmp/box-build/50-verify-nvidia.sh",
      "bash /var/tmp/box-build/90-collect-facts.sh",
    ]
  }

  provisioner "file" {
    direction   = "download"
    source      = "/var/tmp/box-facts.env"
    destination = var.facts_file
  }

  provisioner "shell" {
    environment_vars = local.env
    execute_command  = local.sudo
    inline           = ["bash /var/tmp/box-build/99-cleanup.sh"]
  }
}
