#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sftp/proto.h"
#include "util/buf.h"
#include "util/err.h"

static void test_roundtrip_all_fields(void **state)
{
    (void)state;
    ferry_buf *ext = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_cstring(ext, "a@x"), FERRY_OK);
    assert_int_equal(ferry_buf_put_cstring(ext, "data"), FERRY_OK);
    ferry_sftp_attrs a = {
        .flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID |
                 SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME |
                 SSH_FILEXFER_ATTR_EXTENDED,
        .size = 0x123456789abcull, .uid = 1000, .gid = 1001, .perm = 0100644,
        .atime = 11, .mtime = 22, .ext_count = 1,
        .ext = ferry_buf_data(ext), .ext_len = ferry_buf_len(ext),
    };
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_sftp_attrs_encode(b, &a), FERRY_OK);
    /* 4 + 8 + 8 + 4 + 8 + 4 + (4+3+4+4) */
    assert_int_equal(ferry_buf_len(b), 4 + 8 + 8 + 4 + 8 + 4 + 15);
    ferry_rd r;
    ferry_rd_from_buf(&r, b);
    ferry_sftp_attrs d;
    assert_int_equal(ferry_sftp_attrs_decode(&r, &d), FERRY_OK);
    assert_int_equal(ferry_rd_end(&r), FERRY_OK);
    assert_int_equal(d.flags, a.flags);
    assert_true(d.size == a.size);
    assert_int_equal(d.uid, 1000);
    assert_int_equal(d.gid, 1001);
    assert_int_equal(d.perm, 0100644);
    assert_int_equal(d.atime, 11);
    assert_int_equal(d.mtime, 22);
    assert_int_equal(d.ext_count, 1);
    assert_int_equal(d.ext_len, 15);
    ferry_rd er;
    ferry_rd_init(&er, d.ext, d.ext_len);
    const uint8_t *n, *v;
    size_t nl, vl;
    assert_int_equal(ferry_sftp_attrs_ext_next(&er, &n, &nl, &v, &vl), FERRY_OK);
    assert_int_equal(nl, 3);
    assert_memory_equal(n, "a@x", 3);
    assert_int_equal(vl, 4);
    assert_memory_equal(v, "data", 4);
    assert_int_equal(ferry_sftp_attrs_ext_next(&er, &n, &nl, &v, &vl), FERRY_E_EOF);
    ferry_buf_free(b);
    ferry_buf_free(ext);
}

static void test_empty_and_unknown_bits(void **state)
{
    (void)state;
    ferry_sftp_attrs a = {.flags = 0x40, .size = 5};
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_sftp_attrs_encode(b, &a), FERRY_OK);
    assert_int_equal(ferry_buf_len(b), 4);
    const uint8_t *p = ferry_buf_data(b);
    assert_int_equal(p[3], 0); /* unknown bit cleared */
    ferry_buf_free(b);
}

static void test_truncated_is_format_and_atomic(void **state)
{
    (void)state;
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_ACMODTIME,
                          .size = 9, .atime = 1, .mtime = 2};
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_sftp_attrs_encode(b, &a), FERRY_OK);
    size_t full = ferry_buf_len(b);
    for (size_t cut = 0; cut < full; cut++) {
        ferry_rd r;
        ferry_rd_init(&r, ferry_buf_data(b), cut);
        ferry_sftp_attrs d;
        assert_int_equal(ferry_sftp_attrs_decode(&r, &d), FERRY_E_FORMAT);
        assert_int_equal(ferry_rd_left(&r), cut);
    }
    ferry_buf_free(b);
}

static void test_absurd_ext_count(void **state)
{
    (void)state;
    const uint8_t msg[] = {0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    ferry_rd r;
    ferry_rd_init(&r, msg, sizeof(msg));
    ferry_sftp_attrs d;
    assert_int_equal(ferry_sftp_attrs_decode(&r, &d), FERRY_E_TOO_LARGE);
    assert_int_equal(ferry_rd_left(&r), sizeof(msg));
    /* count within bounds but pairs missing */
    const uint8_t msg2[] = {0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 'x', 0, 0, 0, 0};
    ferry_rd_init(&r, msg2, sizeof(msg2));
    assert_int_equal(ferry_sftp_attrs_decode(&r, &d), FERRY_E_FORMAT);
}

static void test_ext_data_too_long(void **state)
{
    (void)state;
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put_u32(b, SSH_FILEXFER_ATTR_EXTENDED), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, 1), FERRY_OK);
    assert_int_equal(ferry_buf_put_cstring(b, "n"), FERRY_OK);
    uint8_t *p;
    assert_int_equal(ferry_buf_put_u32(b, FERRY_SFTP_ATTRS_MAX_EXT_DATA + 1), FERRY_OK);
    assert_int_equal(ferry_buf_reserve(b, FERRY_SFTP_ATTRS_MAX_EXT_DATA + 1, &p), FERRY_OK);
    memset(p, 'z', FERRY_SFTP_ATTRS_MAX_EXT_DATA + 1);
    ferry_rd r;
    ferry_rd_from_buf(&r, b);
    ferry_sftp_attrs d;
    assert_int_equal(ferry_sftp_attrs_decode(&r, &d), FERRY_E_TOO_LARGE);
    ferry_buf_free(b);
}

static void test_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(ferry_sftp_status_from_err(FERRY_OK), SSH_FX_OK);
    assert_int_equal(ferry_sftp_status_from_err(FERRY_E_EOF), SSH_FX_EOF);
    assert_int_equal(ferry_sftp_status_from_err(FERRY_E_NOT_FOUND), SSH_FX_NO_SUCH_FILE);
    assert_int_equal(ferry_sftp_status_from_err(FERRY_E_PERMISSION), SSH_FX_PERMISSION_DENIED);
    assert_int_equal(ferry_sftp_status_from_err(FERRY_E_FORMAT), SSH_FX_BAD_MESSAGE);
    assert_int_equal(ferry_sftp_status_from_err(FERRY_E_UNSUPPORTED), SSH_FX_OP_UNSUPPORTED);
    assert_int_equal(ferry_sftp_status_from_err(FERRY_E_EXISTS), SSH_FX_FAILURE);
    assert_int_equal(ferry_sftp_status_from_err(FERRY_E_SYSTEM), SSH_FX_FAILURE);
    assert_string_equal(ferry_sftp_status_message(SSH_FX_NO_SUCH_FILE), "No such file");
    assert_string_equal(ferry_sftp_status_message(99), "Unknown error");
    assert_string_equal(ferry_sftp_type_name(SSH_FXP_SYMLINK), "SSH_FXP_SYMLINK");
    assert_string_equal(ferry_sftp_type_name(SSH_FXP_EXTENDED_REPLY), "SSH_FXP_EXTENDED_REPLY");
    assert_string_equal(ferry_sftp_type_name(77), "unknown");
}

/* Which peers speak SYMLINK in the draft's order, by their version line. */
static void test_symlink_order_peers(void **state)
{
    (void)state;
    assert_true(ferry_sftp_symlink_draft_order("SSH-2.0-AsyncSSH_2.10.1", 0));
    assert_true(ferry_sftp_symlink_draft_order("SSH-2.0-AsyncSSH_2.10.1", 1));
    assert_true(ferry_sftp_symlink_draft_order("SSH-2.0-libssh_0.10.5", 0));
    assert_false(ferry_sftp_symlink_draft_order("SSH-2.0-libssh_0.10.5", 1));
    assert_true(ferry_sftp_symlink_draft_order("SSH-2.0-SSHJ_0.38.0", 0));
    assert_false(ferry_sftp_symlink_draft_order("SSH-2.0-libssh2_1.10.0", 0));
    assert_false(ferry_sftp_symlink_draft_order("SSH-2.0-OpenSSH_9.2p1 Debian-2", 0));
    assert_false(ferry_sftp_symlink_draft_order("SSH-2.0-OpenSSH_9.2p1", 1));
    assert_false(ferry_sftp_symlink_draft_order("SSH-2.0-paramiko_3.0.0", 0));
    assert_false(ferry_sftp_symlink_draft_order("SSH-2.0-Go", 0));
    assert_false(ferry_sftp_symlink_draft_order("SSH-2.0-Ferry_0.1 AsyncSSH_", 0));
    assert_false(ferry_sftp_symlink_draft_order("", 0));
    assert_false(ferry_sftp_symlink_draft_order(NULL, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_fields),
        cmocka_unit_test(test_symlink_order_peers),
        cmocka_unit_test(test_empty_and_unknown_bits),
        cmocka_unit_test(test_truncated_is_format_and_atomic),
        cmocka_unit_test(test_absurd_ext_count),
        cmocka_unit_test(test_ext_data_too_long),
        cmocka_unit_test(test_status_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
