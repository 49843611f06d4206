"""Independent references for the tests: windows cut and encoded by hand,
scored through the library's public per-array functions."""
import numpy as np

_CODES = {"A": 0, "C": 1, "G": 2, "T": 3}
WIDTH = 40
CHROM_LENGTHS = {"chr1": 500, "chr2": 300}


def encode(seq):
    """(L, 4) float32 one-hot; lowercase counts, anything else is all zero."""
    out = np.zeros((len(seq), 4), np.float32)
    for i, base in enumerate(seq.upper()):
        if base in _CODES:
            out[i, _CODES[base]] = 1
    return out


def centred(chroms, chrom, start, end, width):
    mid = (start + end) // 2
    left = mid - width // 2
    return chroms[chrom][left:left + width], left


def shuffled_refs(one_hot, num_refs, seeds):
    from deeplift.dinuc_shuffle import dinuc_shuffle

    return np.stack([dinuc_shuffle(x, num_shufs=num_refs, rng=np.random.default_rng(s))
                     for x, s in zip(one_hot, seeds)]).astype(np.float32)


def api_scores(model_path, one_hot, tasks, refs, mode="DeepLIFT_GenomicsDefault"):
    """Contribs and hypothetical contribs (T, N, W, 4) through the public
    API: get_target_contribs_func / get_hypothetical_contribs_func_onehot
    wrapped by get_shuffle_seq_ref_function with the given references."""
    from deeplift import util
    from deeplift.conversion.kerasapi_conversion import convert_model_from_saved_files
    from deeplift.dinuc_shuffle import dinuc_shuffle

    model = convert_model_from_saved_files(str(model_path), nonlinear_mxts_mode=mode)
    contribs_fn = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)
    hyp_fn = util.get_hypothetical_contribs_func_onehot(
        model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-2))
    out = []
    for fn in (contribs_fn, hyp_fn):
        wrapped = util.get_shuffle_seq_ref_function(fn, dinuc_shuffle)
        out.append(np.stack(wrapped(task_idx=list(tasks), input_data_sequences=one_hot,
                                    num_refs_per_seq=refs.shape[1], batch_size=64,
                                    pregen_refs=refs)))
    return out


def keras_logits(keras_model, x):
    """Pre-sigmoid outputs (N, 3) of the test model."""
    import keras

    flat = keras.Model(keras_model.inputs, keras_model.layers[-2].output)
    kernel, bias = keras_model.layers[-1].get_weights()
    return flat.predict(x, verbose=0) @ kernel + bias


def write_vcf(path, records):
    """records: (chrom, pos 1-based, id, ref, alt)."""
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    path.write_text(header + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n"
                                     for c, p, i, r, a in records))
    return path
