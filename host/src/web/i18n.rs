//! The UI's one message catalogue: every label in Simplified Chinese (the default) and English,
//! so a page never mixes languages.

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// From the `lang` cookie's value; Chinese unless it says English.
    pub fn from_cookie(value: Option<&str>) -> Lang {
        if value == Some("en") { Lang::En } else { Lang::Zh }
    }

    /// The `lang` attribute and cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

macro_rules! catalogue {
    ($($key:ident => $zh:literal, $en:literal;)*) => {
        /// A label of the UI.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg { $($key,)* }

        impl Msg {
            /// The label in `lang`.
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Msg::$key, Lang::Zh) => $zh, (Msg::$key, Lang::En) => $en,)*
                }
            }
        }

        #[cfg(test)]
        const ALL: &[Msg] = &[$(Msg::$key,)*];
    };
}

catalogue! {
    AppName => "Sieve 法律监督模型平台", "Sieve supervision models";
    LanguageName => "English", "中文";
    SignIn => "登录", "Sign in";
    SignOut => "退出", "Sign out";
    Token => "访问令牌", "Access token";
    TokenHelp => "由管理员签发（sieve user token）", "Issued by an admin (sieve user token)";
    BadToken => "令牌无效或已撤销", "The token is unknown or revoked";
    SignedInAs => "当前用户", "Signed in as";
    Models => "模型", "Models";
    Runs => "运行", "Runs";
    Model => "模型", "Model";
    Task => "任务", "Task";
    State => "状态", "State";
    Digest => "哈希值", "Digest";
    Author => "发布单位", "Published by";
    Summary => "说明", "Summary";
    Inputs => "输入数据", "Inputs";
    Parameters => "参数", "Parameters";
    Default => "默认值", "Default";
    Description => "说明", "Description";
    Search => "搜索", "Search";
    AllTasks => "全部任务", "All tasks";
    AllStates => "全部状态", "All states";
    Filter => "筛选", "Filter";
    NoModels => "没有符合条件的模型", "No model matches";
    FieldPrecision => "实战准确率", "Field precision";
    FieldPrecisionHelp => "已核查线索中经确认（立案监督）的比例", "Share of reviewed clues that were confirmed (supervision opened)";
    Procuratorate => "检察院", "Procuratorate";
    AllRuns => "全部运行", "All runs";
    Confirmed => "确认", "Confirmed";
    Dismissed => "排除", "Dismissed";
    NeedsMoreData => "待补充数据", "Needs more data";
    Precision => "准确率", "Precision";
    Run => "运行", "Run";
    Dataset => "数据集", "Dataset";
    Outcome => "结果", "Outcome";
    Clues => "线索", "Clues";
    Score => "分值", "Score";
    Subject => "对象", "Subject";
    Rule => "规则", "Rule";
    Reason => "理由", "Reason";
    Evidence => "证据行", "Evidence rows";
    Verdict => "核查结论", "Verdict";
    Note => "备注", "Note";
    Save => "保存", "Save";
    NotReviewed => "未核查", "Not reviewed";
    Previous => "上一页", "Previous";
    Next => "下一页", "Next";
    Page => "页", "Page";
    RunBy => "运行人", "Run by";
    Started => "开始时间", "Started";
    NoRuns => "还没有运行", "No runs yet";
    Held => "受限数据集：线索须经管理员放行后方可查看", "Restricted dataset: the clues are held until an admin releases them";
    Forbidden => "无权访问", "Not allowed";
    NotFound => "未找到", "Not found";
    BadRequest => "输入有误", "Bad input";
    Error => "出错了", "Something went wrong";
    Saved => "已保存", "Saved";
    Back => "返回", "Back";
    Cost => "开销", "Cost";
    FuelUsed => "燃料消耗", "fuel";
    ModelOutput => "模型输出", "Model output";
    ModelLog => "日志", "Log";
    Stdout => "标准输出", "Standard output";
    Stderr => "标准错误", "Standard error";
    Older => "更早的记录", "Older events";
    BenchmarkPrecision => "基准测试准确率", "Benchmark precision";
    Benchmark => "基准测试", "Benchmark";
    Benchmarks => "基准测试集", "Benchmarks";
    ReviewBudget => "核查预算", "Review budget";
    Subjects => "对象数（公开 / 私有）", "Subjects (public / private)";
    Favourites => "收藏", "Favourites";
    Competitions => "模型竞赛", "Competitions";
    Competition => "竞赛", "Competition";
    Metric => "主指标", "Metric";
    Phase => "阶段", "Phase";
    TimeLeft => "剩余时间", "Time left";
    Organizer => "主办单位", "Organized by";
    QuotaLeft => "今日剩余提交次数", "Submissions left today";
    Submit => "提交参赛", "Submit";
    PublicBoard => "公开排行榜", "Public leaderboard";
    PrivateBoard => "最终排行榜（私有测试集）", "Final leaderboard (private side)";
    PhaseCreated => "筹备中", "created";
    PhaseScheduled => "即将开始", "scheduled";
    PhaseOpen => "进行中", "open";
    PhaseClosed => "已截止", "closed";
    PhaseFinalized => "已结束", "finalized";
    VettingFindings => "自动审核结果", "Vetting findings";
    ComponentFile => "模型组件文件（.wasm）", "Component file (.wasm)";
    Upload => "上传", "Upload";
    PublishModel => "发布模型", "Publish a model";
    ImportDataset => "导入数据集", "Import a dataset";
    TableFiles => "数据表文件（每表一个 CSV 或 Parquet，可含 labels.csv）", "Table files (one CSV or Parquet per table, labels.csv optional)";
    Audit => "审计日志", "Audit log";
    Target => "对象", "Target";
    Action => "操作", "Action";
    Actor => "操作人", "By";
    Time => "时间", "Time";
    VerifyChain => "校验哈希链", "Verify the chain";
    ChainIntact => "审计链完整，签名有效", "The chain is intact and its checkpoints are signed";
    ChainBroken => "审计链被破坏", "The chain is broken";
    Datasets => "数据集", "Datasets";
    Source => "来源", "Source";
    Restricted => "受限", "Restricted";
    Grants => "授权单位", "Granted to";
    Table => "表", "Table";
    Rows => "行数", "Rows";
    Columns => "字段", "Columns";
    Retire => "停用", "Retire";
    GrantTo => "授权给", "Grant to";
    Grant => "授权", "Grant";
    Release => "放行线索", "Release the clues";
    AllRules => "全部规则", "All rules";
    Export => "导出", "Export";
    StateSubmitted => "待审核", "submitted";
    StateApproved => "已批准", "approved";
    StateRejected => "已驳回", "rejected";
    StateRevoked => "已撤销", "revoked";
    Notes => "发布说明", "Publisher's notes";
    StartRun => "运行模型", "Run a model";
    Fuel => "燃料上限", "Fuel";
    Deadline => "时限（秒）", "Deadline (s)";
    RunFresh => "即使已有相同的运行也重新运行", "Run again even if an identical run completed before";
    ReusedFrom => "结果沿用自相同的运行", "Answered from the identical run";
    Queued => "排队中", "Queued";
    Running => "运行中", "Running";
    QueuePosition => "队列位置", "Place in queue";
    Vetting => "模型审核", "Vetting";
    AwaitingDecision => "待审核", "Awaiting a decision";
    ApprovedModels => "已批准的模型", "Approved models";
    Approve => "批准", "Approve";
    Reject => "驳回", "Reject";
    Revoke => "撤销", "Revoke";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_both_languages_and_they_differ_where_they_should() {
        for m in ALL {
            let (zh, en) = (m.text(Lang::Zh), m.text(Lang::En));
            assert!(!zh.is_empty() && !en.is_empty(), "{m:?}");
            assert!(
                !en.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) || *m == Msg::LanguageName,
                "{m:?}: {en}"
            );
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) || *m == Msg::LanguageName,
                "{m:?}: {zh}"
            );
        }
    }
}
