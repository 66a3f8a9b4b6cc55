mod common;
use badalloc_audit::container::*;

#[test]
#[ignore]
fn explore() {
    for f in ["qnx/openqnx-641-x86.ifs", "qnx/sdp660-armle-omap5-sd.ifs"] {
        let Some(d) = common::corpus(f) else { return };
        println!("== {f} detect={:?}", detect(&d));
        let c = open(&d, ContainerKind::Ifs, &Limits::default()).unwrap();
        for n in c.notes() {
            println!("NOTE {} {:?}: {}", n.kind, n.offset, n.detail);
        }
        for l in listing(c.as_ref()) {
            println!("{l}");
        }
    }
}

#[test]
#[ignore]
fn explore_qnx6() {
    let Some(d) = common::corpus("qnx6/qnxmount-test_image.bin") else {
        return;
    };
    println!("detect={:?}", detect(&d));
    let c = open(&d, ContainerKind::Qnx6, &Limits::default()).unwrap();
    for n in c.notes() {
        println!("NOTE {} {:?}: {}", n.kind, n.offset, n.detail);
    }
    for l in listing(c.as_ref()) {
        println!("{l}");
    }
}

#[test]
#[ignore]
fn explore_qnx4() {
    let Some(d) = common::corpus("qnx/openqnx-qnx4fs.img") else {
        return;
    };
    println!("detect={:?} carve={:?}", detect(&d), carve(&d));
    let c = open(&d, ContainerKind::Qnx4, &Limits::default()).unwrap();
    for n in c.notes() {
        println!("NOTE {} {:?}: {}", n.kind, n.offset, n.detail);
    }
    for l in listing(c.as_ref()) {
        println!("{l}");
    }
    let b = find(c.as_ref(), ".boot").unwrap();
    let bytes = c.read(b).unwrap();
    println!(".boot detect {:?} len {}", detect(&bytes), bytes.len());
    for f in [
        "qnx/openqnx-641-x86.ifs",
        "qnx/sdp660-armle-omap5-sd.ifs",
        "qnx6/qnxmount-test_image.bin",
    ] {
        let Some(d) = common::corpus(f) else { return };
        println!("{f}: carve={:?}", carve(&d));
    }
}
