"""migspec: the executable specification of QEMU live-migration control."""
