# rbox: the two commands of the README, and what they need.
#   make demo   builds rbox, makes the busybox base image, and shows the image store at work
#   make test   runs every test (what CI runs)

SHELL := /bin/bash
CARGO ?= cargo
export CARGO_BUILD_JOBS ?= 2
RBOX_ROOT ?= /var/lib/rbox
export RBOX_ROOT
RBOX := $(CURDIR)/target/debug/rbox
DEMO_DIR := $(CURDIR)/target/demo

# Debian packages the tests and fixtures use (the tools other OCI engines use, to check
# our output against).
APT_PACKAGES := busybox-static skopeo umoci oci-image-tool zstd debootstrap tar gzip findutils \
	nftables iptables iproute2 curl \
	libseccomp-dev tini procps docker-registry apache2-utils \
	containerd containernetworking-plugins runc crun podman docker.io hyperfine jq util-linux

.PHONY: demo demo-registry test deps build install fixtures debian clean-demo

# The packages' own services (dockerd, containerd, …) are not started on install: the tests
# start their own, each on its own root, state and sockets, and a dockerd started by its
# package would change the host's firewall (its FORWARD policy) under every other test.
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    guard=""; \
	    if [ ! -e /usr/sbin/policy-rc.d ]; then \
	        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && guard=1; \
	    fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	    rc=$$?; [ -z "$$guard" ] || rm -f /usr/sbin/policy-rc.d; [ $$rc -eq 0 ] || exit $$rc; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo is missing: install Rust (rustup) first" >&2; exit 1; }
	@# kubernetes-validate (PyPI, with the Kubernetes schemas; offline): kube's tests check the
	@# YAML of `kube generate` with it.
	@test -x target/venv/bin/kubernetes-validate || { \
	    echo "installing kubernetes-validate into target/venv"; \
	    python3 -m venv target/venv && target/venv/bin/pip install -q kubernetes-validate; \
	}

build: deps
	$(CARGO) build --bin rbox

fixtures: build
	RBOX=$(RBOX) rootfs-fixtures/busybox.sh busybox:latest

# debian:bookworm via debootstrap (a few minutes; not part of the demo or the tests).
debian: build
	RBOX=$(RBOX) rootfs-fixtures/debian.sh bookworm

demo: fixtures
	@mkdir -p $(DEMO_DIR)
	@echo; echo "== rbox images (root $(RBOX_ROOT))"
	$(RBOX) images
	@echo; echo "== tag it for a local registry, and look inside"
	$(RBOX) tag busybox:latest localhost:5000/example/busybox:demo
	$(RBOX) image inspect busybox:latest | head -20
	@echo; echo "== the store is an OCI image layout other tools read as it is"
	skopeo inspect oci:$(RBOX_ROOT)/images:docker.io/library/busybox:latest | head -12
	@echo; echo "== save, remove, load back"
	$(RBOX) save -o $(DEMO_DIR)/busybox.tar localhost:5000/example/busybox:demo
	$(RBOX) rmi localhost:5000/example/busybox:demo
	$(RBOX) load -i $(DEMO_DIR)/busybox.tar
	$(RBOX) images
	$(RBOX) rmi localhost:5000/example/busybox:demo >/dev/null
	@echo; echo "== run a container (rrun is the same as rbox run)"
	$(RBOX) run --rm busybox sh -c 'echo "hello from $$(hostname), pid $$$$ of: $$(ps | wc -l) lines of ps"'
	@echo; echo "== a detached one, its logs, exec into it, stop it"
	$(RBOX) rm -f demo >/dev/null 2>&1 || true
	$(RBOX) run -d --name demo --memory 64m busybox sh -c 'trap "echo bye; exit 0" TERM; while true; do date; sleep 1; done'
	sleep 2
	$(RBOX) ps
	$(RBOX) logs --tail 2 demo
	$(RBOX) exec demo sh -c 'echo in the container: $$(id)'
	$(RBOX) stop demo
	$(RBOX) ps -a --filter name=demo
	$(RBOX) rm demo
	@echo; echo "== a web server on the default bridge, its port 8080 published on 9000"
	$(RBOX) rm -f web >/dev/null 2>&1 || true
	$(RBOX) run -d --name web -p 9000:8080 busybox sh -c 'echo "hello from $$(hostname)" >/tmp/index.html && exec httpd -f -p 8080 -h /tmp'
	$(RBOX) port web
	for i in 1 2 3 4 5 6 7 8 9 10; do curl -fsS http://127.0.0.1:9000/ && break; sleep 0.2; done
	$(RBOX) rm -f web
	@$(MAKE) --no-print-directory demo-registry

# A push/pull round trip through Debian's docker-registry with the project's config,
# on the first free loopback port from 5055, its storage under target/demo; stopped by pid.
demo-registry: fixtures
	@echo; echo "== build an image (rbuild), push it to a registry on loopback, remove it, pull it back, run it"
	@set -e; port=5055; while (exec 3<>/dev/tcp/127.0.0.1/$$port) 2>/dev/null; do port=$$((port+1)); done; \
	rm -rf $(DEMO_DIR)/registry; mkdir -p $(DEMO_DIR)/registry; \
	REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$(DEMO_DIR)/registry REGISTRY_HTTP_ADDR=127.0.0.1:$$port \
	    docker-registry serve tests/registry/config.yml 2>$(DEMO_DIR)/registry.log & pid=$$!; \
	trap "kill $$pid" EXIT; \
	for i in $$(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$$port) 2>/dev/null && break; sleep 0.1; done; \
	img=localhost:$$port/example/hello:demo; \
	echo "+ rbuild -t $$img examples/hello"; $(RBOX) build -t $$img examples/hello; \
	echo "+ rbox push $$img"; $(RBOX) push $$img; \
	echo "+ rbox rmi $$img"; $(RBOX) rmi $$img; \
	echo "+ rbox pull $$img"; $(RBOX) pull $$img; \
	echo "+ rbox run --rm $$img"; $(RBOX) run --rm $$img; \
	$(RBOX) rmi $$img >/dev/null

# Runs every test and closes with one line that sums them up.
test: deps
	@mkdir -p target; set -o pipefail; $(CARGO) test --workspace --no-fail-fast 2>&1 | tee target/test.log; rc=$$?; \
	awk '/^test result:/ { p += $$4; f += $$6; s += $$8 } END { printf "rbox: %d passed, %d failed, %d skipped\n", p, f, s }' target/test.log; \
	exit $$rc

install: deps
	$(CARGO) build --release --bin rbox
	install -m 0755 target/release/rbox /usr/local/bin/rbox
	ln -sf rbox /usr/local/bin/rbuild
	ln -sf rbox /usr/local/bin/rrun
	ln -sf rbox /usr/local/bin/rbox-runc
	install -d /usr/local/share/bash-completion/completions /usr/local/share/zsh/site-functions \
		/usr/local/share/fish/vendor_completions.d /usr/local/share/man/man1
	target/release/rbox completion bash >/usr/local/share/bash-completion/completions/rbox
	target/release/rbox completion zsh >/usr/local/share/zsh/site-functions/_rbox
	target/release/rbox completion fish >/usr/local/share/fish/vendor_completions.d/rbox.fish
	target/release/rbox __man /usr/local/share/man/man1
