fn main() {
    println!("badalloc-audit: under construction");
}
